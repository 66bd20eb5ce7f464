"""Checks before send: each one fires on a mail or an organisation made to fail it, stays
silent on a clean issue, speaks the editor's language, and shows in the composer and on
the review page."""

import re
from html import unescape

import pytest
from campaign_helpers import BODIES, make_audience
from factories import make_user
from flask_babel import force_locale
from helpers import csrf_token, log_in
from test_admin_issues import create_issue, page

from newsletter.admin.composer import checked_preview, preview_parts
from newsletter.extensions import db
from newsletter.mail.checks import GMAIL_CLIP_BYTES, check_variant, contrast, invert
from newsletter.models import Organisation

ADDRESSES = {
    "en": "1 Main Street\nSpringfield",
    "es": "Calle Mayor 1\nMadrid",
    "fr": "1 rue Principale\nLyon",
    "de": "Hauptstraße 1\nBerlin",
}


def save_organisation(**changes) -> None:
    values = {"id": 1, "name": "Red Network", "postal_address": ADDRESSES, **changes}
    db.session.merge(Organisation(**values))
    db.session.commit()


@pytest.fixture
def organisation(in_app):
    """A complete organisation: a logo, a postal address in every language, the default
    colours."""
    in_app(save_organisation, logo="logo-0123456789abcdef.png")


def findings_of(language="en", subject=None, preheader=None, body=None):
    """The findings of one variant as the composer checks it (English UI)."""
    default_subject, default_body = BODIES[language]
    with force_locale("en"):
        return checked_preview(
            language,
            default_subject if subject is None else subject,
            f"{language} preview" if preheader is None else preheader,
            default_body if body is None else body,
            None,
        ).findings


def codes(findings) -> list[str]:
    return [finding.code for finding in findings]


@pytest.mark.parametrize("language", ["en", "es", "fr", "de"])
def test_a_clean_default_issue_has_no_findings(in_app, organisation, language):
    def run():
        html = preview_parts(language, *BODIES[language][:1], "x", BODIES[language][1], 1).html
        # What makes it clean: our own layout passes every check of the mail itself.
        assert f'<html lang="{language}" dir="ltr"' in html
        assert '<meta name="color-scheme" content="light">' in html
        assert "logo-0123456789abcdef.png" in html and 'alt="Red Network"' in html
        return findings_of(language)

    assert in_app(run) == ()


def test_a_right_to_left_language_gets_dir_rtl(in_app, organisation):
    def run():
        with force_locale("en"):
            parts = checked_preview("ar", "أخبار", "معاينة", "# أخبارنا\n\nنلتقي يوم الجمعة.", 1)
        return parts.html, parts.findings

    html, findings = in_app(run)
    assert '<html lang="ar" dir="rtl"' in html
    assert "lang_dir_missing" not in codes(findings)


FAILING_BODIES = [
    ("image_alt_missing", "![](https://example.org/photo.jpg)", "“https://example.org/photo.jpg”"),
    ("image_alt_missing", '<img src="https://example.org/raw.png">', "https://example.org/raw.png"),
    ("insecure_link", "See [the agenda](http://example.org/agenda).", "http://example.org/agenda"),
    (
        "insecure_image",
        "![Our stand](http://example.org/stand.jpg)",
        "http://example.org/stand.jpg",
    ),
    ("invalid_link", "See [the site](www.example.org).", "“www.example.org”"),
    ("invalid_link", "See [it](https://exa mple.org/).", "https://exa mple.org/"),
    ("invalid_link", "See [it](https://under_score/page).", "https://under_score/page"),
    ("invalid_link", "Write [to us](mailto:nobody).", "mailto:nobody"),
    ("invalid_link", "See [it](https://example.org:99999/).", "https://example.org:99999/"),
    ("unsafe_link", "Click [here](javascript:alert(1)).", "javascript:alert(1)"),
    ("unsafe_link", "Open [this](data:text/html,hello).", "data:text/html,hello"),
    ("invalid_link", "See [it](http://[zz/).", "http://[zz/"),
    ("image_removed", "![A chart](javascript:alert(1))", "javascript:alert(1)"),
    ("layout_table_role", "<table><tr><td>Left</td><td>Right</td></tr></table>", "role="),
]


@pytest.mark.parametrize(("code", "body", "named"), FAILING_BODIES)
def test_each_check_of_the_body_fires_and_names_what_to_fix(
    in_app, organisation, code, body, named
):
    findings = in_app(findings_of, body=f"# News\n\n{body}\n")
    assert codes(findings) == [code]
    assert named in findings[0].message


def test_well_formed_links_images_and_data_tables_pass(in_app, organisation):
    body = (
        "# News\n\n![The assembly hall](https://example.org/hall.jpg)\n\n"
        "[Agenda](https://example.org/agenda?day=1#items), [mail us](mailto:team@example.org),"
        " [top](#top), [our archive](http://newsletter.test/en/issues/1),"
        " [a café](https://café.example/), [by address](https://192.0.2.1/),"
        " [IPv6](https://[2001:db8::1]/)\n\n"
        "| Day | Place |\n|-----|-------|\n| Friday | Hall |\n"
    )
    assert in_app(findings_of, body=body) == ()


def test_subject_preheader_and_size_checks(in_app, organisation):
    assert codes(in_app(findings_of, subject="")) == ["subject_missing"]
    assert codes(in_app(findings_of, subject="x" * 151)) == ["subject_too_long"]
    assert in_app(findings_of, subject="x" * 150) == ()
    assert codes(in_app(findings_of, preheader="  ")) == ["preheader_missing"]
    words = "word " * (GMAIL_CLIP_BYTES // 5)
    size = len(in_app(preview_parts, "en", "News", "x", words, None).html.encode())
    assert size > GMAIL_CLIP_BYTES
    [finding] = in_app(findings_of, body=words)
    assert finding.code == "html_too_large" and finding.severity == "error"
    assert f"HTML is {round(size / 1024)} KB" in finding.message
    shorter = "word " * ((GMAIL_CLIP_BYTES - (size - len(words))) // 5 - 10)
    assert in_app(findings_of, body=shorter) == (), "just under the limit"
    assert in_app(findings_of, subject="", body="") == (), "no variant, nothing to check"


def test_the_html_element_and_head_checks_fire_on_a_mail_without_them(in_app, organisation):
    def run(edit):
        html = edit(preview_parts("en", "News", "Soon", "# News\n\nHello.", 1).html)
        with force_locale("en"):
            return codes(check_variant("en", "News", "Soon", "# News\n\nHello.", html))

    assert in_app(run, lambda html: html) == []
    assert in_app(run, lambda html: html.replace(' dir="ltr"', "", 1)) == ["lang_dir_missing"]
    assert in_app(run, lambda html: html.replace('lang="en"', 'lang="fr"', 1)) == [
        "lang_dir_missing"
    ]
    without_scheme = re.compile(r'<meta name="(supported-)?color-scheme"[^>]*>')
    assert in_app(run, lambda html: without_scheme.sub("", html)) == ["color_scheme_missing"]
    section = '600px;"><table border="0" cellpadding="0" cellspacing="0"'
    one_table = lambda html: html.replace(section + ' role="presentation"', section, 1)  # noqa: E731
    assert in_app(run, one_table) == ["layout_table_role"]


def test_a_language_without_a_postal_address_is_found(in_app):
    in_app(save_organisation, postal_address={"de": "Hauptstraße 1\nBerlin"})
    [finding] = in_app(findings_of, "fr")
    assert finding.code == "postal_address_missing" and finding.severity == "error"
    assert in_app(findings_of, "de") == ()


@pytest.mark.parametrize(
    ("colours", "pair"),
    [
        ({"text_color": "#aaaaaa"}, "the text colour on the white content area"),
        ({"brand_color": "#ffd23f"}, "the button text on the colour of buttons and links"),
        ({"background_color": "#202020"}, "the small print on the background colour"),
    ],
)
def test_colours_without_contrast_are_found(in_app, colours, pair):
    in_app(save_organisation, **colours)
    findings = [f for f in in_app(findings_of) if f.code == "low_contrast"]
    assert findings and any(pair in finding.message for finding in findings)
    assert "4.5:1" in findings[0].message


def test_contrast_follows_wcag_and_inversion_is_the_complement():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert invert("#0b6e4f") == "#f491b0" and invert("#fff") == "#000000"


def test_findings_speak_the_editors_language(in_app, translated):
    in_app(save_organisation)

    def run(locale):
        with force_locale(locale):
            return [f.message for f in check_variant("de", "", "", "Text", "")]

    english, german = in_app(run, "en"), in_app(run, "de")
    assert english == [
        "Add a subject.",
        "Add a preheader: without one, mail apps show the first words of the mail "
        "(“View in your browser”) beside the subject.",
    ]
    assert german == [translated("de", text) for text in english]
    assert german[0] == "Geben Sie einen Betreff ein."


def preview_json(client, token, language="en", body=None, subject=None):
    default_subject, default_body = BODIES[language]
    response = client.post(
        "/admin/issues/preview",
        data={
            "language": language,
            "subject": default_subject if subject is None else subject,
            "preheader": "Soon",
            "body": default_body if body is None else body,
        },
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    return response.get_json()


def test_the_preview_json_carries_the_checks_in_the_editors_language(app, in_app):
    in_app(save_organisation)
    in_app(make_user, "redactrice@example.org", "editor", language="fr")
    client = app.test_client()
    assert log_in(client, "redactrice@example.org").status_code == 302
    token = csrf_token(client, "/admin/issues/new")

    assert preview_json(client, token)["checks"] == []
    result = preview_json(
        client, token, "es", body="Vea [el orden del día](http://example.org/od)."
    )
    assert result["checks"] == [
        {
            "code": "insecure_link",
            "severity": "warning",
            "message": "Le lien «\u202fhttp://example.org/od\u202f» utilise http://\u00a0: "
            "utilisez https:// si le site le permet, sinon les logiciels de messagerie "
            "risquent d’avertir les lecteurs.",
        }
    ]
    assert result["html"], "the preview itself is still there"
    empty = preview_json(client, token, "de", subject="", body="")
    assert empty == {"html": "", "text": "", "empty": True, "checks": []}
    no_subject = preview_json(client, token, "de", subject="")
    assert [check["code"] for check in no_subject["checks"]] == ["subject_missing"]
    assert no_subject["empty"] is True


def checks_section(html: str, testid: str) -> str:
    return unescape(re.search(rf'data-testid="{testid}".*?</section>', html, re.S)[0])


def test_the_composer_and_the_review_page_show_the_findings(editor_client, in_app):
    in_app(save_organisation)
    readers = in_app(make_audience)
    variants = dict(BODIES, es=("Noticias", "Vea [el orden del día](http://example.org/od)."))
    issue_id = create_issue(
        editor_client, [readers["lists"]["newsletter"]], variants=variants, default_language="es"
    )

    composer = page(editor_client, f"/admin/issues/{issue_id}/edit")  # opens on Spanish
    shown = checks_section(composer, "send-checks")
    assert "Warning" in shown and "“http://example.org/od” uses http://" in shown
    composer = page(editor_client, f"/admin/issues/{issue_id}/edit?lang=en")
    assert "No problems found" in checks_section(composer, "send-checks")

    review = page(editor_client, f"/admin/issues/{issue_id}/send")
    spanish = checks_section(review, "confirm-checks-es")
    assert "Español" in spanish and "“http://example.org/od” uses http://" in spanish
    for code in ("en", "fr", "de"):
        assert "No problems found" in checks_section(review, f"confirm-checks-{code}")
    assert 'data-testid="confirm-send"' in review, "findings warn; sending stays possible"


def test_the_review_page_lists_only_variants_someone_receives(editor_client, in_app):
    in_app(save_organisation, postal_address={})
    readers = in_app(make_audience)
    issue_id = create_issue(
        editor_client, [readers["lists"]["newsletter"]], audience_languages=["fr"]
    )
    review = page(editor_client, f"/admin/issues/{issue_id}/send")
    french = checks_section(review, "confirm-checks-fr")
    assert "There is no postal address for this language" in french
    assert 'data-testid="confirm-checks-en"' not in review
