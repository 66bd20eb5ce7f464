"""XLIFF 2.0 files of an issue for outside translators (agencies and CAT tools such as
OmegaT, Trados or Weblate), written and read with translate-toolkit.

One file per target language: a unit for the subject, the preheader and each paragraph of
the source text, with the source's language and version named in the file. A file comes
back in only if it belongs to this issue, this language and the source as it is now, and
every unit is translated; otherwise it is refused with every reason, and nothing changes.
"""

import re

from flask_babel import gettext as _
from lxml import etree
from translate.storage.xliff2 import Xliff2File, Xliff2Unit

from . import campaigns, translation_status
from .models import Issue, IssueVariant, User

MAX_BYTES = 512 * 1024  # many times what a newsletter issue needs
ORIGINAL = "newsletter:issue/{issue}/source/{language}/version/{version}"
ORIGINAL_PATTERN = re.compile(r"newsletter:issue/(\d+)/source/[\w-]+/version/(\d+)")
FIELDS = ("subject", "preheader")  # the other units are the body's paragraphs: p1, p2, …
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")


class XliffRefused(Exception):
    """A file that can't come in; ``problems`` says every reason, in the user's language."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def paragraphs(body: str) -> list[str]:
    """The body's blocks as a translator sees them; joined again by blank lines."""
    return [part for part in PARAGRAPH_BREAK.split(body.strip()) if part.strip()]


def _fields(variant: IssueVariant) -> dict[str, str]:
    units = {"subject": variant.subject}
    if variant.preheader:
        units["preheader"] = variant.preheader
    units.update((f"p{number}", text) for number, text in enumerate(paragraphs(variant.body), 1))
    return units


def _source(issue: Issue, language: str) -> IssueVariant:
    source = translation_status.source_variant(issue)
    if source is None:
        raise campaigns.CampaignError(
            _("The issue has no text in its default language to translate."), "no_source"
        )
    if language == issue.default_language:
        raise translation_status.not_a_translation()
    return source


def file_name(issue: Issue, language: str) -> str:
    return f"issue-{issue.id}-{issue.default_language}-{language}.xlf"


def export(issue: Issue, language: str) -> bytes:
    """The XLIFF file for translating ``issue`` into ``language``; the current translation
    is filled in as the target when it is up to date and has as many paragraphs."""
    source = _source(issue, language)
    original = ORIGINAL.format(issue=issue.id, language=source.language, version=source.version)
    store = Xliff2File(sourcelanguage=source.language, targetlanguage=language)
    store.setfilename(store.body, f"issue-{issue.id}")
    store.body.set("original", original)
    units = _fields(source)
    existing = issue.variant(language)
    targets = {}
    if existing is not None and not translation_status.is_stale(issue, existing):
        translated = _fields(existing)
        if translated.keys() == units.keys():
            targets = translated
    for unit_id, text in units.items():
        unit = Xliff2Unit(text)
        unit.setid(unit_id)
        if unit_id in targets:
            unit.target = targets[unit_id]
        store.addunit(unit)
    return bytes(store)


def import_(issue: Issue, language: str, data: bytes, saved_by: User | None) -> IssueVariant:
    """Write the translation a returned file holds, up to date with the source; refuses
    (``XliffRefused``) a file that is not the one this issue's source would export now."""
    source = _source(issue, language)
    campaigns.check_editable(issue)
    if len(data) > MAX_BYTES:
        raise XliffRefused([_("The file is larger than 512 KB.")])
    try:
        store = Xliff2File.parsestring(data)
    except (etree.XMLSyntaxError, ValueError, AssertionError, UnicodeError):
        raise XliffRefused([_("This is not an XLIFF 2.0 file.")]) from None
    problems = _problems(store, issue, source, language)
    if problems:
        raise XliffRefused(problems)
    texts = {unit.getid(): (unit.target or "").strip() for unit in store.units}
    paragraph_ids = [unit_id for unit_id in _fields(source) if unit_id not in FIELDS]
    body = "\n\n".join(texts[unit_id] for unit_id in paragraph_ids)
    variant = campaigns.set_variant(
        issue, language, texts["subject"], body, texts.get("preheader", ""), saved_by
    )
    translation_status.track_source(issue, variant)
    return variant


def _problems(store: Xliff2File, issue: Issue, source: IssueVariant, language: str) -> list[str]:
    problems = []
    if store.getsourcelanguage() != source.language or store.gettargetlanguage() != language:
        problems.append(
            _(
                "The file translates from %(source)s into %(target)s; this one must translate "
                "from %(expected_source)s into %(expected_target)s.",
                source=store.getsourcelanguage() or "?",
                target=store.gettargetlanguage() or "?",
                expected_source=source.language,
                expected_target=language,
            )
        )
    original = store.body.get("original") or ""
    found = re.fullmatch(
        ORIGINAL.format(issue=r"(\d+)", language=r"\w+", version=r"(\d+)"), original
    )
    if not found or int(found[1]) != issue.id:
        problems.append(_("The file belongs to another issue (or to no issue of ours)."))
    elif int(found[2]) != source.version:
        problems.append(
            _(
                "The file was made from version %(exported)s of the source text, which is now "
                "at version %(current)s: export the file again and translate what changed.",
                exported=found[2],
                current=source.version,
            )
        )
    expected = _fields(source)
    ids = [unit.getid() for unit in store.units]
    missing = [unit_id for unit_id in expected if unit_id not in ids]
    unknown = sorted(set(ids) - set(expected)) + sorted({i for i in ids if ids.count(i) > 1})
    if missing:
        problems.append(_("Segments missing: %(ids)s.", ids=", ".join(missing)))
    if unknown:
        problems.append(_("Segments that are not in the source: %(ids)s.", ids=", ".join(unknown)))
    untranslated = [unit.getid() for unit in store.units if not (unit.target or "").strip()]
    if untranslated:
        problems.append(_("Segments not translated: %(ids)s.", ids=", ".join(untranslated)))
    return problems
