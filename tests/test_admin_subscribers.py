"""The editors' subscriber screens: find, read, edit, unsubscribe, erase, export."""

import csv
import html
import io
import re

from factories import make_lists, make_subscriber, make_user, row_counts, subscriber_state
from helpers import csrf_token, log_in

from newsletter.extensions import db
from newsletter.models import (
    Consent,
    ConsentAction,
    Delivery,
    DeliveryState,
    Fallback,
    Issue,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Suppression,
    email_hash,
    utcnow,
)

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def emails_on(response) -> list[str]:
    """The addresses listed in the subscribers table, in order."""
    return re.findall(r'<a href="/admin/subscribers/\d+">([^<]+)</a>', response.get_data(True))


def subscriber_id(email: str) -> int:
    return subscriber_state(email).id


def make_many(count: int, list_id: int | None = None) -> None:
    """``count`` confirmed subscribers reader000@… (oldest) upwards, in one transaction."""
    for number in range(count):
        subscriber = Subscriber(
            email=f"reader{number:03d}@example.org",
            language="en",
            status=SubscriberStatus.CONFIRMED,
        )
        if list_id is not None:
            subscriber.subscriptions = [Subscription(list_id=list_id)]
        db.session.add(subscriber)
    db.session.commit()


def test_logged_out_visitor_is_sent_to_the_login_page(client, in_app):
    in_app(make_subscriber, "ana@example.org")
    for url in ("/admin/subscribers", "/admin/subscribers/export.csv", "/admin/imports/new"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login" in response.headers["Location"]


def test_list_shows_each_subscriber_with_status_language_and_lists(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "ana@example.org", "es", list_ids=(lists["events"],), name="Ana Núñez")
    in_app(make_subscriber, "bob@example.org", "de", SubscriberStatus.PENDING)
    response = editor_client.get("/admin/subscribers")
    text = page_text(response)
    assert response.status_code == 200
    assert emails_on(response) == ["bob@example.org", "ana@example.org"]  # newest first
    for shown in ("Ana Núñez", "Events", "Confirmed", "Pending", "2 subscribers"):
        assert shown in text


def test_search_matches_part_of_the_email_or_name_in_any_case(editor_client, in_app):
    in_app(make_subscriber, "ana@example.org", name="Ana García")
    in_app(make_subscriber, "bob@garcia.example", name="Bob")
    in_app(make_subscriber, "carla@example.org", name="Carla 100%_off")
    assert emails_on(editor_client.get("/admin/subscribers?q=GARC")) == [
        "bob@garcia.example",
        "ana@example.org",
    ]
    assert emails_on(editor_client.get("/admin/subscribers?q=ANA@")) == ["ana@example.org"]
    # LIKE wildcards in the query are taken literally.
    assert emails_on(editor_client.get("/admin/subscribers?q=%25_")) == ["carla@example.org"]
    assert emails_on(editor_client.get("/admin/subscribers?q=_@")) == []


def test_search_ignores_accents_and_case_either_way(editor_client, in_app):
    in_app(make_subscriber, "ana@example.org", name="Ana García")
    in_app(make_subscriber, "jurgen@example.org", name="JÜRGEN Müller")
    in_app(make_subscriber, "zoe@example.org", name="Zoé Straße")
    in_app(make_subscriber, "bob@example.org", name="Bob")

    def found(query: str) -> list[str]:
        return emails_on(editor_client.get("/admin/subscribers", query_string={"q": query}))

    assert found("garcia") == ["ana@example.org"]
    assert found("GARCÍA") == ["ana@example.org"]
    assert found("jürgen muller") == ["jurgen@example.org"]
    assert found("zoe stras") == ["zoe@example.org"], "ß folds to ss"
    assert found("ZOÉ") == ["zoe@example.org"]
    assert found("garcía bob") == []


def test_filters_by_status_language_and_list(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "en@example.org", "en", list_ids=(lists["newsletter"],))
    in_app(make_subscriber, "es@example.org", "es", list_ids=(lists["events"],))
    in_app(make_subscriber, "left@example.org", "es", SubscriberStatus.UNSUBSCRIBED)

    def listed(query: str) -> list[str]:
        return emails_on(editor_client.get(f"/admin/subscribers?{query}"))

    assert listed("status=unsubscribed") == ["left@example.org"]
    assert listed("language=es") == ["left@example.org", "es@example.org"]
    assert listed(f"list={lists['newsletter']}") == ["en@example.org"]
    assert listed(f"language=es&list={lists['events']}&status=confirmed") == ["es@example.org"]
    # Nonsense in the query string is ignored rather than an error.
    assert len(listed("status=nope&language=xx&list=abc")) == 3


def test_paginates_newest_first_and_back(editor_client, in_app):
    in_app(make_many, 120)
    first = editor_client.get("/admin/subscribers")
    assert emails_on(first)[0] == "reader119@example.org"
    assert len(emails_on(first)) == 50
    assert "120 subscribers" in page_text(first)
    next_url = html.unescape(re.search(r'rel="next" href="([^"]+)"', first.get_data(True))[1])
    second = editor_client.get(next_url)
    assert emails_on(second)[0] == "reader069@example.org"
    third_url = html.unescape(re.search(r'rel="next" href="([^"]+)"', second.get_data(True))[1])
    third = editor_client.get(third_url)
    assert emails_on(third) == [f"reader{n:03d}@example.org" for n in range(19, -1, -1)]
    assert 'rel="next"' not in third.get_data(True)
    back_url = html.unescape(re.search(r'rel="prev" href="([^"]+)"', third.get_data(True))[1])
    assert emails_on(editor_client.get(back_url)) == emails_on(second)


def test_pages_keep_the_filter(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_many, 60, lists["events"])
    in_app(make_subscriber, "other@example.org")
    first = editor_client.get(f"/admin/subscribers?list={lists['events']}")
    next_url = html.unescape(re.search(r'rel="next" href="([^"]+)"', first.get_data(True))[1])
    assert f"list={lists['events']}" in next_url
    assert len(emails_on(editor_client.get(next_url))) == 10


def add_history(email: str, list_id: int) -> None:
    """A consent trail and two deliveries, as the public pages and the engine write them."""
    subscriber = db.session.execute(db.select(Subscriber).filter_by(email=email)).scalar_one()
    for action, source in (
        (ConsentAction.SUBSCRIBE, "form"),
        (ConsentAction.CONFIRM, "confirm-link"),
    ):
        subscriber.consents.append(
            Consent(
                action=action,
                ip="203.0.113.7",
                source=source,
                list_ids=[list_id],
                wording_version="2026-11",
                language="en",
            )
        )
    issue = Issue(name="Spring <b>digest</b>", default_language="en", fallback=Fallback.DEFAULT)
    db.session.add(issue)
    db.session.flush()
    db.session.add_all(
        [
            Delivery(
                issue_id=issue.id,
                subscriber_id=subscriber.id,
                state=DeliveryState.SENT,
                last_code=250,
                last_response="2.0.0 Ok: queued as ABC123",
                message_id="<1@newsletter.test>",
                sent_at=utcnow(),
            ),
        ]
    )
    db.session.commit()


def test_consent_history_and_dates_speak_the_editors_language(app, in_app):
    lists = in_app(make_lists)
    in_app(make_user, "editora@example.org", language="es")
    client = app.test_client()
    assert log_in(client, "editora@example.org").status_code == 302
    in_app(make_subscriber, "ana@example.org", "fr", list_ids=(lists["events"],), name="Ana")
    in_app(add_history, "ana@example.org", lists["events"])
    page = client.get(f"/admin/subscribers/{in_app(subscriber_id, 'ana@example.org')}")
    text = page_text(page)
    history = text.split('class="data consents"')[1].split("</table>")[0]
    assert "Página de suscripción" in history and "Enlace de confirmación" in history
    assert "Eventos" in history, "list names, not slugs"
    this_year = str(utcnow().year)
    assert re.search(rf"\d{{1,2}} [a-z]{{3}} {this_year} \d\d:\d\d UTC", history), history


def test_subscriber_page_shows_details_consent_history_and_deliveries(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "ana@example.org", "fr", list_ids=(lists["events"],), name="Ana")
    in_app(add_history, "ana@example.org", lists["events"])
    response = editor_client.get(f"/admin/subscribers/{in_app(subscriber_id, 'ana@example.org')}")
    text = page_text(response)
    assert response.status_code == 200
    for shown in ("Français", "Consent history", "203.0.113.7", "Subscribe page", "Events"):
        assert shown in text
    assert "Confirmation link" in text and ">confirm-link<" not in text
    assert "Spring <b>digest</b>" in text  # the issue's name, escaped in the page
    assert "Spring &lt;b&gt;digest" in response.get_data(as_text=True)
    assert "2.0.0 Ok: queued as ABC123" in text
    assert "Sent" in text


def test_unknown_subscriber_is_404(editor_client):
    assert editor_client.get("/admin/subscribers/999999").status_code == 404


def edit(client, sub_id: int, **fields):
    token = csrf_token(client, f"/admin/subscribers/{sub_id}")
    return client.post(f"/admin/subscribers/{sub_id}", data={"csrf_token": token, **fields})


def test_edit_changes_name_language_and_lists_with_admin_consent(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "ana@example.org", list_ids=(lists["events"],))
    sub_id = in_app(subscriber_id, "ana@example.org")
    response = edit(
        editor_client,
        sub_id,
        name="Ana María",
        language="es",
        lists=[str(lists["newsletter"]), str(lists["members"])],
    )
    assert response.status_code == 302
    state = in_app(subscriber_state, "ana@example.org")
    assert (state.name, state.language) == ("Ana María", "es")
    assert state.list_ids == {lists["newsletter"], lists["members"]}
    assert state.status == SubscriberStatus.CONFIRMED
    consent = state.consents[-1]
    assert (consent.action, consent.source) == (ConsentAction.PREFERENCES, "admin")
    assert set(consent.list_ids) == {lists["newsletter"], lists["members"]}


def test_edit_refuses_bad_input_and_changes_nothing(editor_client, in_app):
    in_app(make_subscriber, "ana@example.org", name="Ana")
    sub_id = in_app(subscriber_id, "ana@example.org")
    for fields in (
        {"name": "x" * 101, "language": "en"},
        {"name": "Ana\r\nBcc: victim@example.org", "language": "en"},
        {"name": "Ana", "language": "xx"},
        {"name": "Ana", "language": "en", "lists": ["999"]},
    ):
        assert edit(editor_client, sub_id, **fields).status_code == 400
    state = in_app(subscriber_state, "ana@example.org")
    assert (state.name, state.language, state.consents) == ("Ana", "en", [])


def test_editing_a_pending_subscriber_never_subscribes_them(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "pat@example.org", status=SubscriberStatus.PENDING)
    sub_id = in_app(subscriber_id, "pat@example.org")
    page = page_text(editor_client.get(f"/admin/subscribers/{sub_id}"))
    assert "Only confirmed subscribers' lists can be changed here" in page
    forged = edit(editor_client, sub_id, name="Pat", language="de", lists=[str(lists["events"])])
    assert "only the link in their confirmation mail can confirm them" in page_text(
        editor_client.get(forged.location)
    )
    state = in_app(subscriber_state, "pat@example.org")
    assert (state.name, state.list_ids, state.consents) == (None, set(), []), "nothing changed"
    edit(editor_client, sub_id, name="Pat", language="de")
    state = in_app(subscriber_state, "pat@example.org")
    assert (state.name, state.language, state.status) == ("Pat", "de", SubscriberStatus.PENDING)
    assert state.list_ids == set()
    assert state.consents[-1].source == "admin"


def test_lists_are_refused_for_an_address_that_bounced_meanwhile(editor_client, in_app):
    """The editor's page offered lists; the address bounced before the form came back."""
    lists = in_app(make_lists)
    in_app(make_subscriber, "gone@example.org", language="fr", list_ids=(lists["events"],))
    sub_id = in_app(subscriber_id, "gone@example.org")
    token = csrf_token(editor_client, f"/admin/subscribers/{sub_id}")

    def bounce() -> None:
        db.session.get(Subscriber, sub_id).status = SubscriberStatus.BOUNCED
        db.session.commit()

    in_app(bounce)
    response = editor_client.post(
        f"/admin/subscribers/{sub_id}?lang=de",
        data={"csrf_token": token, "name": "", "language": "fr", "lists": [lists["newsletter"]]},
    )
    shown = page_text(editor_client.get(response.location))
    assert "sie kann von hier aus nicht erneut angemeldet werden" in shown, (
        "in the editor's language"
    )
    assert in_app(subscriber_state, "gone@example.org").list_ids == {lists["events"]}


def test_unsubscribe_leaves_every_list_and_records_it(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "ana@example.org", list_ids=(lists["events"], lists["newsletter"]))
    sub_id = in_app(subscriber_id, "ana@example.org")
    token = csrf_token(editor_client, f"/admin/subscribers/{sub_id}")
    response = editor_client.post(
        f"/admin/subscribers/{sub_id}/unsubscribe", data={"csrf_token": token}
    )
    assert response.status_code == 302
    state = in_app(subscriber_state, "ana@example.org")
    assert state.status == SubscriberStatus.UNSUBSCRIBED
    assert state.list_ids == set()
    assert (state.consents[-1].action, state.consents[-1].source) == (
        ConsentAction.UNSUBSCRIBE,
        "admin",
    )
    assert "unsubscribed from every list" in page_text(editor_client.get(response.location))


def test_admin_erases_after_a_confirmation_page(admin_client, in_app):
    in_app(make_subscriber, "ana@example.org", name="Ana")
    sub_id = in_app(subscriber_id, "ana@example.org")
    page = admin_client.get(f"/admin/subscribers/{sub_id}/erase")
    assert page.status_code == 200
    assert "This cannot be undone" in page_text(page)
    assert in_app(subscriber_state, "ana@example.org") is not None  # GET changes nothing
    token = csrf_token(admin_client, f"/admin/subscribers/{sub_id}/erase")
    response = admin_client.post(f"/admin/subscribers/{sub_id}/erase", data={"csrf_token": token})
    assert response.status_code == 302
    assert in_app(subscriber_state, "ana@example.org") is None
    suppressed = in_app(lambda: db.session.get(Suppression, email_hash("ana@example.org")))
    assert suppressed is not None


def test_editor_may_not_erase(editor_client, in_app):
    in_app(make_subscriber, "ana@example.org")
    sub_id = in_app(subscriber_id, "ana@example.org")
    assert "Erase" not in page_text(editor_client.get(f"/admin/subscribers/{sub_id}"))
    assert editor_client.get(f"/admin/subscribers/{sub_id}/erase").status_code == 403
    token = csrf_token(editor_client, f"/admin/subscribers/{sub_id}")
    response = editor_client.post(f"/admin/subscribers/{sub_id}/erase", data={"csrf_token": token})
    assert response.status_code == 403
    assert in_app(subscriber_state, "ana@example.org") is not None


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(admin_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "ana@example.org", list_ids=(lists["events"],), name="Ana")
    sub_id = in_app(subscriber_id, "ana@example.org")
    before = in_app(row_counts)
    for url, data in (
        (f"/admin/subscribers/{sub_id}", {"name": "Mallory", "language": "en"}),
        (f"/admin/subscribers/{sub_id}/unsubscribe", {}),
        (f"/admin/subscribers/{sub_id}/erase", {}),
        (f"/admin/subscribers/{sub_id}/erase", {"csrf_token": "forged"}),
    ):
        assert admin_client.post(url, data=data).status_code == 400
    state = in_app(subscriber_state, "ana@example.org")
    assert (state.name, state.status, state.list_ids) == (
        "Ana",
        SubscriberStatus.CONFIRMED,
        {lists["events"]},
    )
    assert in_app(row_counts) == before


def test_markup_in_a_name_is_shown_as_text(editor_client, in_app):
    in_app(make_subscriber, "eve@example.org", name=SCRIPT)
    sub_id = in_app(subscriber_id, "eve@example.org")
    for url in ("/admin/subscribers", f"/admin/subscribers/{sub_id}"):
        body = editor_client.get(url).get_data(as_text=True)
        assert SCRIPT not in body
        assert ESCAPED_SCRIPT in body


def test_data_download_holds_everything_about_the_subscriber(editor_client, in_app):
    lists = in_app(make_lists)
    in_app(make_subscriber, "ana@example.org", list_ids=(lists["events"],))
    in_app(add_history, "ana@example.org", lists["events"])
    response = editor_client.get(f"/admin/subscribers/{subscriber_id_of(in_app)}/data.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["email"] == "ana@example.org"
    assert [c["source"] for c in data["consents"]] == ["form", "confirm-link"]


def subscriber_id_of(in_app, email: str = "ana@example.org") -> int:
    return in_app(subscriber_id, email)


def read_csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_export_is_streamed_filtered_and_neutralizes_formulas(editor_client, in_app):
    lists = in_app(make_lists)
    dangerous = {
        "a@example.org": "=cmd|' /C calc'!A0",
        "b@example.org": "+1+1",
        "c@example.org": "-2+3",
        "d@example.org": "@SUM(A1)",
        "e@example.org": "\tTabbed",
        "f@example.org": 'Ana, "the" <b>best</b>',
    }
    for email, name in dangerous.items():
        in_app(
            make_subscriber, email, "es", list_ids=(lists["events"], lists["newsletter"]), name=name
        )
    in_app(make_subscriber, "-dash@example.org", "en")
    in_app(make_subscriber, "left@example.org", "es", SubscriberStatus.UNSUBSCRIBED)

    response = editor_client.get("/admin/subscribers/export.csv?language=es&status=confirmed")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0]) == [
        "email",
        "name",
        "language",
        "second_language",
        "status",
        "lists",
        "created_at",
    ]
    names = {row["email"]: row["name"] for row in rows}
    assert names == {
        "a@example.org": "'=cmd|' /C calc'!A0",
        "b@example.org": "'+1+1",
        "c@example.org": "'-2+3",
        "d@example.org": "'@SUM(A1)",
        "e@example.org": "'\tTabbed",
        "f@example.org": 'Ana, "the" <b>best</b>',
    }
    assert {row["lists"] for row in rows} == {"newsletter|events"}
    assert {row["status"] for row in rows} == {"confirmed"}
    everyone = read_csv(editor_client.get("/admin/subscribers/export.csv"))
    assert len(everyone) == 8
    assert "'-dash@example.org" in {row["email"] for row in everyone}


def test_export_reads_in_batches(editor_client, in_app, monkeypatch):
    from newsletter import subscriber_queries

    monkeypatch.setattr(subscriber_queries, "EXPORT_BATCH", 7)
    in_app(make_many, 30)
    response = editor_client.get("/admin/subscribers/export.csv")
    emails = [row["email"] for row in read_csv(response)]
    assert emails == [f"reader{n:03d}@example.org" for n in range(29, -1, -1)]


def test_edit_sets_and_clears_the_second_language(editor_client, in_app):
    in_app(make_subscriber, "jonas@example.org", "de", name="Jonas")
    sub_id = in_app(subscriber_id, "jonas@example.org")
    page = editor_client.get(f"/admin/subscribers/{sub_id}").get_data(as_text=True)
    assert 'id="second_language"' in page and '<option selected value="">None</option>' in page
    edit(editor_client, sub_id, name="Jonas", language="de", second_language="en")
    assert in_app(subscriber_state, "jonas@example.org").second_language == "en"
    page = editor_client.get(f"/admin/subscribers/{sub_id}").get_data(as_text=True)
    assert '<option selected value="en">English</option>' in page

    refused = edit(editor_client, sub_id, name="Jonas", language="en", second_language="en")
    assert refused.status_code == 302
    page = editor_client.get(f"/admin/subscribers/{sub_id}").get_data(as_text=True)
    assert "The second language must differ from the first." in page
    state = in_app(subscriber_state, "jonas@example.org")
    assert (state.language, state.second_language) == ("de", "en"), "nothing changed"

    edit(editor_client, sub_id, name="Jonas", language="de", second_language="")
    assert in_app(subscriber_state, "jonas@example.org").second_language is None
    assert (
        edit(editor_client, sub_id, name="Jonas", language="de", second_language="xx").status_code
        == 400
    )
