"""Translation as a workflow: the state of each language's text, translations that follow
their source's version, what changed in the source, and the send gate that refuses
unapproved or stale languages unless the editor sends them the fallback."""

from datetime import timedelta

import pytest
from campaign_helpers import BODIES, ledger, make_audience, make_issue, send_all
from factories import make_lists, make_user
from helpers import csrf_token
from test_api_v1 import ApiClient

from newsletter import campaign_control, campaigns, issue_copies, tasks, translation_status
from newsletter.accounts import create_token
from newsletter.campaigns import CampaignError
from newsletter.extensions import db
from newsletter.models import (
    FallbackChoice,
    Issue,
    IssueStatus,
    Organisation,
    TokenScope,
    TranslationState,
    User,
    VariantApproval,
    utcnow,
)

EDITOR = "editor@example.org"


def require_approval(on: bool = True) -> None:
    org = db.session.get(Organisation, 1) or Organisation(id=1, postal_address={})
    org.require_approval = on
    db.session.add(org)
    db.session.commit()


def user_id(email: str) -> int:
    return db.session.execute(db.select(User.id).filter_by(email=email)).scalar_one()


def approve_all(issue_id: int, email: str = "editor@example.org") -> None:
    issue = db.session.get(Issue, issue_id)
    user = db.session.get(User, user_id(email))
    for variant in issue.variants:
        translation_status.approve(issue, variant.language, user)
    db.session.commit()


def edit(issue_id: int, language: str, body: str, subject: str | None = None) -> None:
    issue = db.session.get(Issue, issue_id)
    variant = issue.variant(language)
    campaigns.set_variant(issue, language, subject or variant.subject, body, variant.preheader)
    db.session.commit()


def states(issue_id: int) -> dict:
    issue = db.session.get(Issue, issue_id)
    return {
        v.language: (v.state.value, translation_status.is_stale(issue, v), v.source_version)
        for v in issue.variants
    }


@pytest.fixture
def issue_id(in_app):
    def prepare():
        if db.session.execute(db.select(User).filter_by(email=EDITOR)).scalar() is None:
            make_user(EDITOR, "editor", name="Eddie Editor")  # editor_client makes it too
        return make_issue([make_lists()["newsletter"]], ("en", "es", "fr"))

    return in_app(prepare)


# --- the domain -----------------------------------------------------------------------


def test_a_new_translation_follows_the_source_and_turns_stale_when_it_changes(in_app, issue_id):
    assert in_app(states, issue_id) == {
        "en": ("draft", False, None),
        "es": ("draft", False, 1),
        "fr": ("draft", False, 1),
    }
    in_app(edit, issue_id, "en", "# Our news\n\nThe assembly meets on **Saturday**.")
    assert in_app(states, issue_id)["es"] == ("draft", True, 1)
    # Writing the translation does not by itself say it covers the change.
    in_app(edit, issue_id, "es", "# Nuestras noticias\n\nLa asamblea se reúne el **sábado**.")
    assert in_app(states, issue_id)["es"] == ("draft", True, 1)

    def mark():
        issue = db.session.get(Issue, issue_id)
        translation_status.mark_up_to_date(issue, "es")
        db.session.commit()

    in_app(mark)
    assert in_app(states, issue_id)["es"] == ("draft", False, 2)
    assert in_app(states, issue_id)["fr"] == ("draft", True, 1)


def test_a_new_default_language_is_the_source_its_translations_follow(in_app, issue_id):
    in_app(edit, issue_id, "es", "# Nuestras noticias\n\nCorregido.")  # es at version 2

    def make_spanish_the_default():
        campaigns.set_default_language(db.session.get(Issue, issue_id), "es")
        db.session.commit()

    in_app(make_spanish_the_default)
    assert in_app(states, issue_id) == {
        "en": ("draft", False, 2),
        "es": ("draft", False, None),
        "fr": ("draft", False, 2),
    }
    in_app(edit, issue_id, "es", "# Nuestras noticias\n\nOtra vez.")
    assert in_app(states, issue_id)["en"] == ("draft", True, 2)


def test_the_source_changes_are_a_word_diff_from_the_followed_version(in_app, issue_id):
    in_app(edit, issue_id, "en", "# Our news\n\nThe assembly meets on **Saturday**.", "News!")

    def changes():
        issue = db.session.get(Issue, issue_id)
        found = translation_status.source_changes(issue, "fr")
        return found.from_version, found.to_version, {k: str(v) for k, v in found.diffs.items()}

    old, new, diffs = in_app(changes)
    assert (old, new) == (1, 2)
    assert "<del>Friday</del><ins>Saturday</ins>" in diffs["body"]
    assert "<del>of the week</del>" in diffs["subject"].replace(" </del>", "</del>") or (
        "<del>" in diffs["subject"] and "<ins>!</ins>" in diffs["subject"]
    )
    assert "<del>" not in diffs["preheader"] and "<ins>" not in diffs["preheader"]


def test_approval_records_who_and_when_and_any_change_returns_to_draft(in_app, issue_id):
    in_app(approve_all, issue_id)

    def approval(language):
        variant = db.session.get(Issue, issue_id).variant(language)
        return variant.state, variant.approval.approved_by.email if variant.approval else None

    assert in_app(approval, "es") == (TranslationState.APPROVED, "editor@example.org")
    in_app(edit, issue_id, "es", "# Otra cosa\n\nNada.")
    assert in_app(approval, "es") == (TranslationState.DRAFT, None)
    assert in_app(lambda: db.session.query(VariantApproval).count()) == 2
    assert in_app(approval, "fr") == (TranslationState.APPROVED, "editor@example.org")


def test_bad_transitions_are_refused_with_a_reason(in_app, issue_id):
    def attempt(change):
        issue = db.session.get(Issue, issue_id)
        user = db.session.get(User, user_id("editor@example.org"))
        try:
            change(issue, user)
        except CampaignError as error:
            db.session.rollback()
            return error.code, str(error)
        db.session.commit()
        return None

    approve = translation_status.approve
    assert in_app(attempt, lambda i, u: approve(i, "de", u))[0] == "variant_not_found"
    assert in_app(attempt, lambda i, u: approve(i, "xx\x00", u))[0] == "variant_not_found"
    assert in_app(attempt, lambda i, u: approve(i, "es", None))[0] == "forbidden"
    assert in_app(attempt, lambda i, u: approve(i, "es", u)) is None
    assert in_app(attempt, lambda i, u: approve(i, "es", u))[0] == "already_approved"
    assert in_app(attempt, lambda i, u: translation_status.request_review(i, "es"))[0] == (
        "already_approved"
    )
    assert in_app(attempt, lambda i, u: translation_status.mark_up_to_date(i, "en"))[0] == (
        "not_a_translation"
    )
    assert in_app(attempt, lambda i, u: translation_status.choose_fallback(i, "en", u))[0] == (
        "not_a_translation"
    )
    assert in_app(attempt, lambda i, u: translation_status.revoke_fallback(i, "fr"))[0] == (
        "fallback_not_chosen"
    )
    in_app(edit, issue_id, "en", "# Changed\n\nText.")
    code, message = in_app(attempt, lambda i, u: approve(i, "fr", u))
    assert code == "translation_stale" and "mark it up to date" in message
    assert in_app(states, issue_id)["fr"][0] == "draft"


def test_may_approve_admins_and_editors():
    assert translation_status.may_approve(User(role="admin"))
    assert translation_status.may_approve(User(role="editor"))
    assert not translation_status.may_approve(None)


def test_a_duplicate_starts_in_draft_with_no_fallback_choices(in_app, issue_id):
    def copy():
        issue = db.session.get(Issue, issue_id)
        approve_all(issue_id)
        translation_status.choose_fallback(issue, "es", None)
        db.session.commit()
        duplicate = issue_copies.duplicate_issue(issue)
        db.session.commit()
        return duplicate.id

    copy_id = in_app(copy)
    assert in_app(states, copy_id) == {
        "en": ("draft", False, None),
        "es": ("draft", False, 1),
        "fr": ("draft", False, 1),
    }
    assert in_app(lambda: db.session.get(Issue, copy_id).fallback_choices) == []


# --- the send gate --------------------------------------------------------------------


def test_without_the_setting_an_unapproved_issue_is_sent_as_before(in_app, issue_id):
    def unready():
        return translation_status.unready_languages(db.session.get(Issue, issue_id))

    in_app(require_approval)
    assert in_app(unready) == ["en", "es", "fr"]
    in_app(require_approval, False)
    assert in_app(unready) == []
    in_app(campaign_control.send_now, issue_id)
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.SENDING


def test_the_ui_refuses_to_send_naming_the_languages_and_starts_nothing(app, in_app, editor_client):
    def prepare():
        require_approval()
        audience = make_audience(per_language=1)
        return make_issue([audience["lists"]["newsletter"]], ("en", "es", "fr"))

    issue_id = in_app(prepare)
    in_app(approve_all, issue_id)
    in_app(edit, issue_id, "es", "# Cambio\n\nTexto nuevo.")  # back to draft
    in_app(edit, issue_id, "en", "# Change\n\nNew text.")  # es and fr now stale
    review = editor_client.get(f"/admin/issues/{issue_id}/send").get_data(as_text=True)
    named = "not approved or not up to date with the source: {}. Approve them"
    assert named.format("English, Español, Français") in review
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")
    response = editor_client.post(
        f"/admin/issues/{issue_id}/send", data={"csrf_token": token}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert named.format("English (en), Español (es), Français (fr)") in html
    assert in_app(ledger, issue_id) == []
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.DRAFT

    schedule = editor_client.post(
        f"/admin/issues/{issue_id}/schedule",
        data={"csrf_token": token, "scheduled_at": "2099-12-01T09:30"},
        follow_redirects=True,
    )
    assert "not approved or not up to date" in schedule.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.DRAFT


def test_a_fallback_choice_sends_the_default_text_to_that_language(
    app, in_app, editor_client, smtp
):
    def prepare():
        require_approval()
        audience = make_audience(per_language=1)
        return make_issue([audience["lists"]["newsletter"]], ("en", "es", "fr"))

    issue_id = in_app(prepare)
    in_app(approve_all, issue_id)
    in_app(edit, issue_id, "es", "# Borrador\n\nSin revisar.")
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")
    editor_client.post(
        f"/admin/issues/{issue_id}/languages/es/fallback", data={"csrf_token": token}
    )
    review = editor_client.get(f"/admin/issues/{issue_id}/send").get_data(as_text=True)
    assert "Chosen by Eddie Editor" in review and "Fallback: English" in review
    assert 'data-testid="own-text-es"' in review
    choice = in_app(lambda: db.session.execute(db.select(FallbackChoice)).scalar_one())
    assert choice.language == "es" and choice.chosen_by_id is not None

    response = editor_client.post(f"/admin/issues/{issue_id}/send", data={"csrf_token": token})
    assert response.headers["Location"].endswith(f"/admin/issues/{issue_id}")
    assert in_app(ledger, issue_id), "sending started"
    in_app(send_all, issue_id)
    received = {item.recipients[0]: item.message for item in smtp.settle()}
    assert received["es0@example.org"]["Subject"] == BODIES["en"][0]
    assert received["es0@example.org"]["Content-Language"] == "en"
    assert received["fr0@example.org"]["Subject"] == BODIES["fr"][0]
    assert "Sin revisar" not in str(received["es0@example.org"])


def test_a_revoked_fallback_choice_gates_again(in_app, editor_client, issue_id):
    in_app(require_approval)
    in_app(approve_all, issue_id)
    in_app(edit, issue_id, "fr", "# Brouillon\n\nÀ revoir.")
    token = csrf_token(editor_client, f"/admin/issues/{issue_id}/send")
    base = f"/admin/issues/{issue_id}/languages/fr"
    editor_client.post(f"{base}/fallback", data={"csrf_token": token})
    assert (
        in_app(lambda: translation_status.unready_languages(db.session.get(Issue, issue_id))) == []
    )
    editor_client.post(f"{base}/own-text", data={"csrf_token": token})
    assert in_app(
        lambda: translation_status.unready_languages(db.session.get(Issue, issue_id))
    ) == ["fr"]
    assert editor_client.post(f"{base}/fallback", data={}).status_code == 400  # no CSRF token
    assert (
        editor_client.post(
            f"/admin/issues/{issue_id}/languages/zz/fallback", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_the_watcher_does_not_start_a_scheduled_issue_that_became_unready(in_app, issue_id):
    in_app(require_approval)
    in_app(approve_all, issue_id)
    when = utcnow() + timedelta(hours=1)
    in_app(campaign_control.schedule, issue_id, when)
    in_app(edit, issue_id, "en", "# Late change\n\nAfter scheduling.")

    def come_due():
        db.session.get(Issue, issue_id).scheduled_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        tasks.watch_campaigns()

    in_app(come_due)
    assert in_app(lambda: db.session.get(Issue, issue_id).status) == IssueStatus.SCHEDULED
    assert in_app(ledger, issue_id) == []


def test_the_cli_refuses_to_send_and_says_which_languages(in_app, runner, issue_id):
    in_app(require_approval)
    in_app(approve_all, issue_id)
    in_app(edit, issue_id, "fr", "# Brouillon\n\nÀ revoir.")
    result = runner.invoke(args=["issues", "send", str(issue_id)])
    assert result.exit_code == 1
    assert "not approved or not up to date with the source: Français (fr)." in result.output
    assert in_app(ledger, issue_id) == []


# --- the API --------------------------------------------------------------------------


@pytest.fixture
def api(client, in_app, issue_id):
    def token():
        creator = db.session.get(User, user_id("editor@example.org"))
        _row, secret = create_token("translations", TokenScope.WRITE, creator)
        db.session.commit()
        return secret

    return ApiClient(client, in_app(token))


def test_the_api_refuses_to_send_with_409_listing_the_languages(in_app, api, issue_id):
    in_app(require_approval)
    response = api.post(f"/issues/{issue_id}/send")
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "translations_not_ready"
    assert body["fields"]["languages"] == ["en", "es", "fr"]
    assert in_app(ledger, issue_id) == []
    overview = api.get(f"/issues/{issue_id}/translations").get_json()
    assert overview["not_ready"] == ["en", "es", "fr"] and overview["require_approval"]

    for language in ("en", "es"):
        assert api.post(f"/issues/{issue_id}/variants/{language}/approve").status_code == 200
    chosen = api.call("PUT", f"/issues/{issue_id}/fallbacks/fr")
    assert chosen.status_code == 200 and chosen.get_json()["not_ready"] == []
    plan = {item["language"]: item["outcome"] for item in chosen.get_json()["plan"]}
    assert plan["fr"] == "fallback" and plan["es"] == "own"
    assert api.post(f"/issues/{issue_id}/send").status_code == 202


def test_the_api_transitions_and_source_changes(in_app, api, issue_id):
    url = f"/issues/{issue_id}/variants/es"
    ready = api.post(f"{url}/ready")
    assert ready.status_code == 200 and ready.get_json()["state"] == "ready"
    approved = api.post(f"{url}/approve").get_json()
    assert approved["state"] == "approved" and approved["approved_at"]
    twice = api.post(f"{url}/approve")
    assert twice.status_code == 409 and twice.get_json()["code"] == "already_approved"

    put = api.call("PUT", f"/issues/{issue_id}/variants/en", json={"subject": "S", "body": "B"})
    assert put.status_code == 200
    variant = api.get(url).get_json()
    assert variant["stale"] is True and variant["state"] == "approved"
    changes = api.get(f"{url}/source-changes").get_json()
    assert changes["from_version"] == 1 and changes["to_version"] == 2
    assert "<del>" in changes["body"] and "<ins>B</ins>" in changes["body"]
    stale = api.post(f"{url}/approve")  # approved earlier; still approved, not re-approvable
    assert stale.status_code == 409
    marked = api.post(f"{url}/up-to-date").get_json()
    assert marked["stale"] is False and marked["source_version"] == 2


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/issues/{id}/variants/de/approve", 404, "variant_not_found"),
        ("/issues/2147483647/variants/es/approve", 404, "not_found"),
        ("/issues/{id}/variants/zz/approve", 422, "validation_failed"),
        ("/issues/{id}/variants/en/up-to-date", 409, "not_a_translation"),
        ("/issues/{id}/variants/de/source-changes", 404, "variant_not_found"),
    ],
)
def test_the_api_answers_bad_targets_clearly(api, issue_id, path, status, code):
    method = "GET" if path.endswith("source-changes") else "POST"
    response = api.call(method, path.format(id=issue_id))
    assert response.status_code == status
    assert response.get_json()["code"] == code


def test_a_token_without_an_account_may_not_approve(client, in_app, issue_id):
    def token():
        _row, secret = create_token("orphan", TokenScope.WRITE)
        db.session.commit()
        return secret

    api = ApiClient(client, in_app(token))
    response = api.post(f"/issues/{issue_id}/variants/es/approve")
    assert response.status_code == 403
    assert in_app(states, issue_id)["es"][0] == "draft"
