"""The catalogs are complete, current and compiled, in every language we speak."""

import re

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from newsletter.cli.translate import POT, TRANSLATIONS, extract_to_temporary

LANGUAGES = ["es", "fr", "de"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def load(path):
    with open(path, "rb") as handle:
        return read_po(handle)


def ids(catalog) -> set[str]:
    return {message.id for message in catalog if message.id}


def forms(value) -> tuple[str, ...]:
    """A translation's text, or each plural form's."""
    return tuple(value) if isinstance(value, list | tuple) else (value,)


@pytest.fixture(scope="module")
def current_ids() -> set[str]:
    """The strings the code and templates use today."""
    return ids(load(extract_to_temporary()))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_complete_and_not_fuzzy(lang):
    catalog = load(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    untranslated = [m.id for m in catalog if m.id and not all(forms(m.string))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_not_stale(lang, current_ids):
    catalog = load(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    assert ids(catalog) == current_ids, "run `flask translate update` and translate"


def test_template_is_current(current_ids):
    assert ids(load(POT)) == current_ids, "run `flask translate extract`"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_placeholders(lang):
    catalog = load(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    for message in catalog:
        if message.id:
            source = forms(message.id)[-1]  # the plural form names every placeholder
            for text in forms(message.string):
                assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (
                    message.id
                )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_source(lang):
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    source = load(folder / "messages.po")
    with open(folder / "messages.mo", "rb") as handle:
        compiled = read_mo(handle)
    assert {forms(m.id): forms(m.string) for m in compiled if m.id} == {
        forms(m.id): forms(m.string) for m in source if m.id
    }


NARROW_NBSP, NBSP = "\u202f", "\u00a0"
# A punctuation mark that ends a phrase: followed by a space, the end, a quote or a tag.
FRENCH_MARK = re.compile(r"(.?)([:;!?])(?=\s|$|»|\"|<|\))")


def test_french_catalog_spaces_high_punctuation():
    """French sets ; ! ? after a narrow no-break space, : after a no-break space, and
    guillemets with narrow no-break spaces inside, so a line never starts with a mark."""
    wrong = []
    for message in load(TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"):
        if not message.id:
            continue  # the catalog's header
        for text in forms(message.string):
            for found in FRENCH_MARK.finditer(text):
                wanted = NBSP if found.group(2) == ":" else NARROW_NBSP
                if found.group(1) != wanted:
                    wrong.append(text)
            if re.search(f"«[^{NARROW_NBSP}]|[^{NARROW_NBSP}]»", text):
                wrong.append(text)
    assert wrong == []
