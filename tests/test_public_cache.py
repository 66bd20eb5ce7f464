"""What the public pages keep in memory: the lists, read once and again as soon as any
process changes one; the subscribe page, with each visitor's own token; and a subscribe
POST that asks nothing of the database."""

import os
import subprocess
import sys
from pathlib import Path

from factories import make_lists
from helpers import csrf_token
from sqlalchemy import event, update

from newsletter import tasks
from newsletter.extensions import db
from newsletter.models import MailingList
from newsletter.organisation import current_organisation

ROOT = Path(__file__).resolve().parent.parent


def test_a_list_changed_here_shows_at_once(client, in_app):
    lists = in_app(make_lists)
    assert "Newsletter" in client.get("/en/").get_data(as_text=True)

    def rename():
        item = db.session.get(MailingList, lists["newsletter"])
        item.names = {**item.names, "en": "Weekly letter"}
        db.session.commit()

    in_app(rename)
    page = client.get("/en/").get_data(as_text=True)
    assert "Weekly letter" in page and "Newsletter" not in page


def test_a_list_changed_by_another_process_shows_at_once(app, client, in_app):
    lists = in_app(make_lists)
    assert "Events" in client.get("/en/").get_data(as_text=True)
    script = (
        "from newsletter import create_app\n"
        "from newsletter.extensions import db\n"
        "from newsletter.models import MailingList\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        f"    item = db.session.get(MailingList, {lists['events']})\n"
        "    item.public = False\n"
        "    db.session.commit()\n"
    )
    env = {**os.environ, **app.worker_env, "SECRET_KEY": app.config["SECRET_KEY"]}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)
    page = client.get("/en/").get_data(as_text=True)
    assert "Newsletter" in page and "Events" not in page, "hidden in the other process"


def test_the_lists_are_read_once_until_they_change(client, in_app):
    lists = in_app(make_lists)
    client.get("/en/")

    def rename_behind_the_sessions_back():
        db.session.execute(
            update(MailingList)
            .where(MailingList.id == lists["events"])
            .values(names={"en": "Renamed"})
        )
        db.session.commit()

    in_app(rename_behind_the_sessions_back)
    assert "Renamed" not in client.get("/en/").get_data(as_text=True), "read from memory"


def test_a_subscribe_post_asks_nothing_of_the_database(app, client, in_app, monkeypatch):
    lists = in_app(make_lists)
    queued = []  # the worker's part (here it would run in this process) is not counted
    monkeypatch.setattr(
        tasks.handle_subscription, "apply_async", lambda kwargs, **_: queued.append(kwargs)
    )
    body = {"email": "warm@example.org", "lists": [lists["newsletter"]]}
    assert client.post("/api/v1/subscribe", json=body).status_code == 202
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        body = {"email": "ana@example.org", "lists": [lists["newsletter"]]}
        assert client.post("/api/v1/subscribe", json=body).status_code == 202
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []
    assert [task["email"] for task in queued] == ["warm@example.org", "ana@example.org"]


def test_each_visitor_of_the_kept_page_gets_a_token_of_their_own(app, in_app):
    lists = in_app(make_lists)
    tokens = []
    for _visitor in range(2):
        visitor = app.test_client()
        token = csrf_token(visitor, "/en/")
        tokens.append(token)
        data = {"csrf_token": token, "email": f"v{len(tokens)}@example.org", "language": "en"}
        data["lists"] = [str(lists["newsletter"])]
        assert visitor.post("/en/", data=data).status_code == 302
    assert tokens[0] != tokens[1]
    french = app.test_client().get("/fr/").get_data(as_text=True)
    assert '<html lang="fr"' in french and "Restez informé" in french


def test_new_settings_show_on_the_kept_page_at_once(client, in_app):
    in_app(make_lists)
    assert "Union of Readers" not in client.get("/en/").get_data(as_text=True)

    def rename():
        organisation = current_organisation()
        organisation.name = "Union of Readers"
        db.session.add(organisation)
        db.session.commit()

    in_app(rename)
    assert "Union of Readers" in client.get("/en/").get_data(as_text=True)
