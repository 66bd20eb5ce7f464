"""A fifth language is a setting and a catalog, no code: Arabic, added at run time with a
catalog this test writes, is offered on the public pages and in the composer, and an issue
goes out in it, right to left wherever it is shown."""

import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from campaign_helpers import send_all
from factories import make_lists, make_subscriber, make_user
from flask_babel import get_domain
from flask_migrate import upgrade
from helpers import log_in

from newsletter import campaigns, create_app
from newsletter.config import TRANSLATIONS, from_environment
from newsletter.extensions import db
from newsletter.i18n import language_name, text_direction
from newsletter.models import Issue

ARABIC = {
    "Stay informed": "ابقَ على اطلاع",
    "Unsubscribe": "إلغاء الاشتراك",
    "Manage your preferences": "إدارة تفضيلاتك",
}


@pytest.fixture
def arabic_app(tmp_path, smtp):
    """The app with LANGUAGES=en,es,fr,de,ar and an Arabic catalog of a few strings."""
    catalog = Catalog(locale="ar", domain="messages")
    for english, arabic in ARABIC.items():
        catalog.add(english, arabic)
    folder = tmp_path / "translations" / "ar" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    settings = from_environment(
        {
            "LANGUAGES": "en,es,fr,de,ar",
            "DATABASE_URL": f"sqlite:///{tmp_path}/five.db",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "BASE_URL": "http://newsletter.test",
            "MAIL_FROM": "Newsletter <news@newsletter.test>",
        }
    )
    settings["TESTING"] = True
    settings["BABEL_TRANSLATION_DIRECTORIES"] = f"{TRANSLATIONS};{tmp_path / 'translations'}"
    app = create_app(settings)
    with app.app_context():
        upgrade()
        # Flask-Babel keeps catalogs per language for the whole process, not per app: an
        # earlier test's app may have cached "no Arabic catalog".
        get_domain().cache.clear()
    yield app
    with app.app_context():
        get_domain().cache.clear()
        db.session.remove()
        db.engine.dispose()


def test_the_locale_data_names_the_language_and_its_direction():
    assert [language_name(code) for code in ("en", "es", "fr", "de")] == [
        "English",
        "Español",
        "Français",
        "Deutsch",
    ]
    assert (language_name("ar"), text_direction("ar")) == ("العربية", "rtl")
    assert (language_name("ca"), text_direction("ca")) == ("Català", "ltr")
    assert (language_name("xx"), text_direction("xx")) == ("xx", "ltr")


def test_an_issue_goes_out_in_arabic_right_to_left(arabic_app, smtp):
    app = arabic_app
    client = app.test_client()

    page = client.get("/ar/").get_data(as_text=True)
    assert re.search(r'<html lang="ar" dir="rtl"', page)
    assert "ابقَ على اطلاع" in page
    assert "العربية" in client.get("/en/").get_data(as_text=True), "offered in the menu"

    with app.app_context():
        make_user("editor@example.org", "editor")
        ids = make_lists()
        make_subscriber("salma@example.org", "ar", list_ids=[ids["newsletter"]])
        make_subscriber("ana@example.org", "es", list_ids=[ids["newsletter"]])
    editor = app.test_client()
    log_in(editor, "editor@example.org")
    composer = editor.get("/admin/issues/new").get_data(as_text=True)
    assert 'data-language="ar" lang="ar" dir="rtl"' in composer
    assert "العربية" in composer
    assert '<html lang="en" dir="ltr"' in composer, "the editor's own UI stays English"

    with app.app_context():
        issue = campaigns.create_issue("Spring", "en", {ids["newsletter"]})
        campaigns.set_variant(issue, "en", "Spring assembly", "We meet on **Friday**.")
        campaigns.set_variant(issue, "ar", "جمعية الربيع", "نلتقي يوم **الجمعة**.")
        db.session.commit()
        issue_id = issue.id
        campaigns.start_sending(db.session.get(Issue, issue_id))
        db.session.commit()
        send_all(issue_id)

    mails = {item.recipients[0]: item.message for item in smtp.settle()}
    arabic = mails["salma@example.org"]
    assert arabic["Subject"] == "جمعية الربيع" and arabic["Content-Language"] == "ar"
    html = arabic.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="ar" dir="rtl"' in html
    assert "<strong>الجمعة</strong>" in html
    assert "إلغاء الاشتراك" in html and "text-align:right" in html.replace(" ", "")
    text = arabic.get_body(preferencelist=("plain",)).get_content()
    assert "إلغاء الاشتراك: http://newsletter.test/ar/unsubscribe/" in text
    # Spanish has no variant: the default language, left to right.
    spanish = mails["ana@example.org"].get_body(preferencelist=("html",)).get_content()
    assert '<html lang="en" dir="ltr"' in spanish
