"""Who an issue reaches, counted before it is sent: lists × languages and the fallback rule."""

import pytest
from factories import make_lists, make_subscriber

from newsletter import campaigns
from newsletter.models import Fallback, SubscriberStatus


@pytest.fixture
def readers(in_app):
    """Confirmed readers: newsletter en 2, es 1, it 1; events de 1; both lists fr 1.
    Not readers: pending, unsubscribed and bounced subscribers of the newsletter."""

    def make():
        ids = make_lists()
        newsletter, events = ids["newsletter"], ids["events"]
        for email, language, list_ids in [
            ("en1@example.org", "en", (newsletter,)),
            ("en2@example.org", "en", (newsletter,)),
            ("es1@example.org", "es", (newsletter,)),
            ("it1@example.org", "it", (newsletter,)),
            ("de1@example.org", "de", (events,)),
            ("fr1@example.org", "fr", (newsletter, events)),
        ]:
            make_subscriber(email, language, list_ids=list_ids)
        for status in (
            SubscriberStatus.PENDING,
            SubscriberStatus.UNSUBSCRIBED,
            SubscriberStatus.BOUNCED,
        ):
            make_subscriber(f"{status.value}@example.org", "es", status, (newsletter,))
        return ids

    return in_app(make)


def counts(in_app, list_ids, variants, fallback=Fallback.DEFAULT, languages=None):
    return in_app(
        campaigns.audience_counts, set(list_ids), languages, set(variants), "en", fallback
    )


def test_readers_are_the_confirmed_subscribers_of_any_chosen_list_once_each(in_app, readers):
    newsletter, events = readers["newsletter"], readers["events"]
    assert in_app(campaigns.reader_languages, {newsletter}, None) == {
        "en": 2,
        "es": 1,
        "fr": 1,
        "it": 1,
    }
    both = in_app(campaigns.reader_languages, {newsletter, events}, None)
    assert both == {"en": 2, "es": 1, "fr": 1, "it": 1, "de": 1}, "fr1 is on both, counted once"
    assert in_app(campaigns.reader_languages, {readers["members"]}, None) == {}
    assert in_app(campaigns.reader_languages, set(), None) == {}


def test_readers_can_be_narrowed_to_languages(in_app, readers):
    lists = {readers["newsletter"], readers["events"]}
    assert in_app(campaigns.reader_languages, lists, ["es", "de"]) == {"es": 1, "de": 1}
    assert in_app(campaigns.reader_languages, lists, ["it"]) == {"it": 1}
    assert in_app(campaigns.reader_languages, lists, None) == in_app(
        campaigns.reader_languages, lists, []
    ), "no languages chosen means all of them"


def test_readers_without_their_variant_get_the_default_one(in_app, readers):
    result = counts(in_app, [readers["newsletter"]], variants={"en", "es"})
    assert result.per_variant == {"en": 2 + 1 + 1, "es": 1, "fr": 0, "de": 0}
    assert result.via_fallback == {"en": 2, "es": 0, "fr": 0, "de": 0}, "fr1 and it1"
    assert result.skipped == 0
    assert result.total == 5


def test_with_the_skip_rule_readers_without_their_variant_get_nothing(in_app, readers):
    result = counts(in_app, [readers["newsletter"]], {"en", "es"}, Fallback.SKIP)
    assert result.per_variant == {"en": 2, "es": 1, "fr": 0, "de": 0}
    assert result.via_fallback == {"en": 0, "es": 0, "fr": 0, "de": 0}
    assert result.skipped == 2
    assert result.total == 3


def test_every_reader_with_a_variant_of_their_own_gets_it(in_app, readers):
    lists = [readers["newsletter"], readers["events"]]
    result = counts(in_app, lists, variants={"en", "es", "fr", "de"}, fallback=Fallback.SKIP)
    assert result.per_variant == {"en": 2, "es": 1, "fr": 1, "de": 1}
    assert result.skipped == 1, "it1: no Italian variant"


def test_narrowed_languages_and_the_fallback_together(in_app, readers):
    lists = [readers["newsletter"], readers["events"]]
    result = counts(in_app, lists, variants={"en"}, languages=["de", "it"])
    assert result.per_variant == {"en": 2, "es": 0, "fr": 0, "de": 0}
    assert result.via_fallback["en"] == 2
    assert result.total == 2


def test_no_list_reaches_nobody(in_app, readers):
    result = counts(in_app, [], variants={"en"})
    assert result.total == 0 and result.skipped == 0
    assert result.per_variant == {"en": 0, "es": 0, "fr": 0, "de": 0}
