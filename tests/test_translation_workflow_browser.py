"""The translation workflow from end to end in a real browser: an editor gives a translator
French; the translator, in a French interface, translates beside the English source and
marks it ready; the editor changes the source; the translator is mailed, reads the diff and
updates; the editor approves; sending is refused while German is stale until German is
sent the fallback; and each reader gets the right language."""

import re
from datetime import timedelta

from campaign_helpers import send_all
from factories import PASSWORD, make_lists, make_subscriber, make_user
from helpers import markdown_field
from playwright.sync_api import expect

from newsletter import campaigns, translation_status, translators
from newsletter.accounts import create_user
from newsletter.extensions import db
from newsletter.models import Issue, Organisation, Role, Subscriber, User, utcnow

SOURCE = "# Our news\n\nThe assembly meets on Friday.\n\nBring a friend."
CHANGED = "# Our news\n\nThe assembly meets on Saturday.\n\nBring a friend."
GERMAN = "# Unsere Neuigkeiten\n\nDie Versammlung tagt am Freitag.\n\nBringen Sie jemanden mit."
FRENCH = "# Nos nouvelles\n\nL'assemblée se réunit vendredi.\n\nVenez accompagné."
FRENCH_UPDATED = "# Nos nouvelles\n\nL'assemblée se réunit samedi.\n\nVenez accompagné."


def prepare() -> int:
    org = db.session.get(Organisation, 1) or Organisation(id=1)
    org.require_approval = True
    org.postal_address = {"en": "1 Main Street, Springfield"}
    db.session.add(org)
    editor = db.session.get(User, make_user("editor@example.org", "editor", name="Eddie"))
    create_user(
        "francoise@example.org",
        PASSWORD,
        Role.TRANSLATOR,
        name="Françoise",
        language="fr",
        translation_languages=["es"],
    )
    newsletter = make_lists()["newsletter"]
    issue = campaigns.create_issue("Assembly", "en", {newsletter})
    campaigns.set_variant(issue, "en", "Assembly news", SOURCE, "", editor)
    campaigns.set_variant(issue, "de", "Neues von der Versammlung", GERMAN, "", editor)
    translation_status.approve(issue, "de", editor)
    db.session.commit()
    for email, language, second in (
        ("en@example.org", "en", None),
        ("fr@example.org", "fr", None),
        ("de@example.org", "de", None),
        # Catalan has no text and no interface: the second language, French, is written.
        ("ca@example.org", "ca", "fr"),
    ):
        subscriber = make_subscriber(email, language, list_ids=(newsletter,))
        subscriber.second_language = second
    db.session.commit()
    return issue.id


def log_in(page, live_server, email):
    page.goto(live_server + "/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_a_translation_goes_from_assignment_to_each_readers_inbox(
    app, live_server, in_app, pages, smtp
):
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    issue_id = in_app(prepare)
    composer = f"{live_server}/admin/issues/{issue_id}/edit"

    # The editor gives Françoise French instead of Spanish.
    editor = pages("en-GB")
    log_in(editor, live_server, "editor@example.org")
    editor.goto(live_server + "/admin/issues")
    editor.get_by_test_id("translators-link").click()
    card = editor.get_by_test_id("translator-francoise@example.org")
    card.get_by_label("Español").uncheck()
    card.get_by_label("Français").check()
    card.get_by_role("button").click()
    expect(editor.locator("p.notice.ok")).to_contain_text("now translates Français")

    # Françoise works in French, beside the English source, and can't touch the rest.
    translator = pages("fr-FR")
    log_in(translator, live_server, "francoise@example.org")
    expect(translator.locator("h1")).to_have_text("Numéros")
    expect(translator.locator("nav.admin-nav")).not_to_contain_text("Abonnés")
    translator.get_by_role("link", name="Assembly").click()
    expect(translator.get_by_test_id("translator-notice")).to_contain_text("Français")
    expect(translator.get_by_test_id("tab-fr")).to_have_attribute("aria-selected", "true")
    beside = translator.get_by_test_id("source-beside-fr")
    expect(beside).to_contain_text("Assembly news")
    expect(beside).to_contain_text("The assembly meets on Friday.")
    expect(translator.get_by_test_id("beside-preview-fr")).to_be_visible()
    expect(translator.get_by_test_id("issue-name")).to_be_disabled()
    translator.get_by_test_id("subject-fr").fill("Nouvelles de l'assemblée")
    markdown_field(translator, "fr").fill(FRENCH)
    # The live preview follows the French being written.
    preview = translator.frame_locator("#preview-desktop")
    expect(preview.locator("body")).to_contain_text("se réunit vendredi")
    translator.click("#tab-en")
    expect(translator.get_by_test_id("read-only-en")).to_be_visible()
    expect(translator.get_by_test_id("subject-en")).to_be_disabled()
    translator.click("#tab-fr")
    translator.get_by_test_id("save-issue").click()
    expect(translator.locator("p.notice.ok").first).to_be_visible()
    translator.click("#tab-fr")
    translator.get_by_test_id("ready-fr").click()
    expect(translator.get_by_test_id("tab-state-fr")).to_have_text("Prêt pour relecture")
    expect(translator.get_by_test_id("approve-fr")).to_have_count(0)

    # The editor changes an English paragraph; French and German are stale now.
    editor.goto(composer)
    editor.click("#tab-en")
    markdown_field(editor, "en").fill(CHANGED)
    editor.get_by_test_id("save-issue").click()
    expect(editor.locator("p.notice.ok").first).to_contain_text("The issue is saved")
    # The beat's run once the source has rested for the interval.
    rested = utcnow() + timedelta(seconds=app.config["TRANSLATOR_MAIL_INTERVAL"] + 1)
    assert in_app(translators.tell_due_translators, rested) == 1
    [mail] = [m.message for m in smtp.wait_for(1) if m.recipients == ["francoise@example.org"]]
    assert mail["Subject"] == "L’original de «\u202fAssembly\u202f» a changé"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"(http://\S+/source-changes)", text)[1]

    # Françoise follows the mail's link, reads what changed, updates and marks it ready.
    translator.goto(link)
    body_diff = translator.get_by_test_id("source-diff").nth(2)
    expect(body_diff.locator("del")).to_have_text("Friday")
    expect(body_diff.locator("ins")).to_have_text("Saturday")
    translator.get_by_role("link", name="Retour à l’éditeur").click()
    expect(translator.get_by_test_id("tab-fr")).to_have_attribute("aria-selected", "true")
    markdown_field(translator, "fr").fill(FRENCH_UPDATED)
    translator.get_by_test_id("save-issue").click()
    expect(translator.locator("p.notice.ok").first).to_be_visible()
    translator.click("#tab-fr")
    translator.get_by_test_id("up-to-date-fr").click()
    translator.click("#tab-fr")
    translator.get_by_test_id("ready-fr").click()
    expect(translator.get_by_test_id("tab-state-fr")).to_have_text("Prêt pour relecture")

    # The editor approves English and French; German is stale and stops the send.
    editor.goto(composer)
    for code in ("en", "fr"):
        editor.click(f"#tab-{code}")
        editor.get_by_test_id(f"approve-{code}").click()
        expect(editor.locator("p.notice.ok")).to_contain_text("the text is approved")
    editor.goto(f"{live_server}/admin/issues/{issue_id}/send")
    expect(editor.get_by_test_id("translations-not-ready")).to_contain_text("Deutsch")
    editor.get_by_test_id("confirm-send").click()
    expect(editor.locator("p.notice.error[data-category=error]")).to_contain_text("Deutsch (de)")
    assert in_app(lambda: db.session.get(Issue, issue_id).status.value) == "draft"
    editor.get_by_test_id("fallback-de").click()
    expect(editor.get_by_test_id("translations-not-ready")).to_have_count(0)
    editor.get_by_test_id("confirm-send").click()
    expect(editor.locator("p.notice[data-category=started]")).to_contain_text(
        "Sending has started: 4 messages"
    )

    in_app(send_all, issue_id)
    subjects = {
        item.recipients[0]: item.message["Subject"]
        for item in smtp.settle()
        if item.recipients[0] != "francoise@example.org"
    }
    assert subjects == {
        "en@example.org": "Assembly news",
        "de@example.org": "Assembly news",  # German was sent the fallback
        "fr@example.org": "Nouvelles de l'assemblée",
        "ca@example.org": "Nouvelles de l'assemblée",  # Catalan, then French
    }
    assert (
        in_app(
            lambda: db.session.execute(
                db.select(Subscriber.second_language).filter_by(email="ca@example.org")
            ).scalar_one()
        )
        == "fr"
    )
