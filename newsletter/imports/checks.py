"""Each record of an upload checked on its own (address, name, languages, lists), not
against the database; duplicates within the file are marked, the first one wins."""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..subscriptions import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, InvalidEmail, normalize_email
from .reading import FileRefused, cell, column_positions, records, refuse_binary, shown

MAX_CELL_LENGTH = 1000
"""Longer cells are refused: nothing we store is that long, so they are junk or an attack."""
LIST_SEPARATORS = ("|", ";")


@dataclass
class Row:
    """One data record of the file, checked on its own (not against the database)."""

    index: int  # 0-based among data records: what ``processed_rows`` counts
    line: int  # line in the file where the record starts (the header is line 1)
    email: str = ""
    name: str | None = None
    language: str = ""
    second_language: str | None = None
    list_ids: set[int] = field(default_factory=set)
    problem: str | None = None
    value: str | None = None  # the offending text, for the report
    first_line: int | None = None  # for duplicates: where the address first appeared


@dataclass
class Settings:
    """What a row is checked against: the job's choices and the lists that exist."""

    languages: list[str]
    default_language: str
    list_ids: set[int]
    lists_by_slug: dict[str, int]


PLAIN_LOCAL_PART = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*")
MAX_LOCAL_PART_LENGTH = 64


class AddressChecker:
    """``normalize_email``, with each domain checked only once.

    The full check costs most of an analysis, and a file holds few distinct domains. An
    address whose domain already passed and whose local part is plain lower-case ASCII
    (letters, digits, ``_+-``, single inner dots) is one the full check accepts unchanged;
    anything else goes through it.
    """

    def __init__(self):
        self.domains: dict[str, str] = {}

    def __call__(self, raw: str) -> str:
        address = raw.strip().lower()
        local, _at, domain = address.rpartition("@")
        known = self.domains.get(domain)
        if (
            known is not None
            and len(address) <= MAX_EMAIL_LENGTH
            and len(local) <= MAX_LOCAL_PART_LENGTH
            and PLAIN_LOCAL_PART.fullmatch(local)
        ):
            return f"{local}@{known}"
        normalized = normalize_email(raw)
        self.domains.setdefault(domain, normalized.rpartition("@")[2])
        return normalized


def _check_email(row: Row, raw: str, checker: AddressChecker) -> None:
    if not raw:
        row.problem = "missing_email"
        return
    try:
        row.email = checker(raw)
    except InvalidEmail:
        local = raw.rpartition("@")[0]
        row.problem = "non_ascii_local" if local and not local.isascii() else "invalid_email"
        row.value = shown(raw)


def _check_name(row: Row, name: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        row.problem, row.value = "name_too_long", shown(name)
    elif any(not ch.isprintable() for ch in name):
        # CR/LF would let a name add mail headers somewhere; tabs and the like are junk.
        row.problem, row.value = "name_control", shown(name)
    else:
        row.name = name or None


def _language_code(raw: str) -> str:
    """ "es-MX", "es_MX" and "ES" all mean Spanish."""
    return raw.lower().replace("_", "-").split("-")[0]


def _check_language(row: Row, raw: str, settings: Settings) -> None:
    code = _language_code(raw)
    if not raw:
        row.language = settings.default_language
    elif code in settings.languages:
        row.language = code
    else:
        row.problem, row.value = "unknown_language", shown(raw)


def _check_second_language(row: Row, raw: str, settings: Settings) -> None:
    code = _language_code(raw)
    if not raw:
        row.second_language = None
    elif code not in settings.languages:
        row.problem, row.value = "unknown_language", shown(raw)
    elif code == row.language:
        row.problem, row.value = "same_languages", shown(raw)
    else:
        row.second_language = code


def _check_lists(row: Row, raw: str, settings: Settings) -> None:
    row.list_ids = set(settings.list_ids)
    for separator in LIST_SEPARATORS[1:]:
        raw = raw.replace(separator, LIST_SEPARATORS[0])
    for slug in filter(None, (part.strip().lower() for part in raw.split(LIST_SEPARATORS[0]))):
        if slug not in settings.lists_by_slug:
            row.problem, row.value = "unknown_list", shown(slug)
            return
        row.list_ids.add(settings.lists_by_slug[slug])
    if not row.list_ids:
        row.problem = "no_lists"


def check_row(
    index: int,
    line: int,
    cells: list[str],
    positions: dict[str, int],
    settings: Settings,
    checker: AddressChecker,
) -> Row:
    """One record checked for everything that does not need the database."""
    row = Row(index=index, line=line)
    if any(len(cell) > MAX_CELL_LENGTH for cell in cells):
        row.problem = "too_long"
        return row
    _check_email(row, cell(cells, positions, "email"), checker)
    checks = (
        lambda: _check_name(row, cell(cells, positions, "name")),
        lambda: _check_language(row, cell(cells, positions, "language"), settings),
        lambda: _check_second_language(row, cell(cells, positions, "second_language"), settings),
        lambda: _check_lists(row, cell(cells, positions, "lists"), settings),
    )
    for check in checks:
        if row.problem:
            break
        check()
    return row


def read_rows(path: Path, settings: Settings, header: dict | None = None) -> Iterator[Row]:
    """Every data record of the file, checked, with duplicates marked (the first one wins).

    Streams the file; memory grows only with the set of addresses seen. When ``header``
    is a dict, it receives the columns found (for the report).
    """
    seen: dict[str, int] = {}
    with path.open("rb") as binary:
        refuse_binary(binary)
        found = records(binary)
        first = next(found, None)
        if first is None:
            raise FileRefused("empty")
        positions = column_positions(first[1])
        if header is not None:
            header["delimiter"] = first[2]
            header["columns"] = sorted(positions, key=positions.get)
            header["ignored"] = [
                shown(text)
                for position, text in enumerate(first[1])
                if position not in positions.values() and text.strip()
            ][:20]
        index, checker = 0, AddressChecker()
        for line, cells, _delimiter in found:
            if not any(text.strip() for text in cells):
                continue
            row = check_row(index, line, cells, positions, settings, checker)
            index += 1
            if not row.problem:
                if row.email in seen:
                    row.problem, row.first_line = "duplicate", seen[row.email]
                else:
                    seen[row.email] = line
            yield row
    if index == 0:
        raise FileRefused("no_rows")
