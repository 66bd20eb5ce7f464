"""The public archive of sent issues, per language, and its RSS feed."""

import xml.etree.ElementTree as ElementTree

from campaign_helpers import BODIES, make_audience, make_issue, send_all, start

from newsletter import campaigns
from newsletter.extensions import db
from newsletter.models import Fallback, Issue


def sent_issues(in_app) -> tuple[int, int, int]:
    """One issue in four languages, one in English only with fallback skip, one draft."""
    lists = in_app(make_audience, per_language=1)["lists"]
    everywhere = in_app(make_issue, [lists["newsletter"]])
    english_only = in_app(
        make_issue, [lists["newsletter"]], languages=("en",), fallback=Fallback.SKIP
    )
    draft = in_app(make_issue, [lists["newsletter"]])
    for issue_id in (everywhere, english_only):
        in_app(start, issue_id)
        in_app(send_all, issue_id)
    return everywhere, english_only, draft


def test_archive_lists_sent_issues_in_the_readers_language(client, in_app, smtp, translated):
    everywhere, english_only, draft = sent_issues(in_app)
    smtp.settle()
    page = client.get("/fr/archive").get_data(as_text=True)
    assert translated("fr", "Past issues") in page
    assert BODIES["fr"][0] in page and f"/fr/issues/{everywhere}" in page
    assert f"/issues/{english_only}" not in page, "French readers were skipped"
    assert f"/issues/{draft}" not in page, "drafts are not public"
    english = client.get("/en/archive").get_data(as_text=True)
    assert f"/en/issues/{english_only}" in english and f"/en/issues/{everywhere}" in english
    assert client.get(f"/fr/issues/{everywhere}").status_code == 200


def test_empty_archive_says_so(client, translated):
    page = client.get("/de/archive").get_data(as_text=True)
    assert translated("de", "No issues have been sent yet.") in page


def test_rss_feed_per_language_is_valid_and_escaped(client, in_app, smtp):
    everywhere, _english_only, _draft = sent_issues(in_app)
    smtp.settle()

    def rename():
        issue = db.session.get(Issue, everywhere)
        issue.variant("es").subject = "Noticias <script>alert(1)</script> & más"
        db.session.commit()

    in_app(rename)
    response = client.get("/es/archive.rss")
    assert response.mimetype == "application/rss+xml"
    assert b"<script>" not in response.data
    channel = ElementTree.fromstring(response.data).find("channel")
    assert channel.findtext("language") == "es"
    [item] = channel.findall("item")
    assert item.findtext("title") == "Noticias <script>alert(1)</script> & más"
    assert item.findtext("link") == f"http://newsletter.test/es/issues/{everywhere}"
    assert item.findtext("pubDate").endswith("+0000")


def test_archive_entries_follow_the_fallback_rule(in_app, smtp):
    everywhere, english_only, _draft = sent_issues(in_app)
    smtp.settle()
    italian = in_app(campaigns.archive, "it")
    assert [(e.issue_id, e.language) for e in italian] == [(everywhere, "en")]
