"""Reading an uploaded CSV file: bytes to records, refusing what is not UTF-8 text."""

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import BinaryIO, TypeVar

from ..csv_export import unneutralized

T = TypeVar("T")

CHUNK_SIZE = 1000
"""Rows per transaction, in the analysis's look-ups and in the import."""
MAX_SHOWN_VALUE = 80
DELIMITERS = (",", ";", "\t")
COLUMNS = ("email", "name", "language", "second_language", "lists")
ALIASES = {
    "e-mail": "email",
    "email address": "email",
    "mail": "email",
    "list": "lists",
    "second language": "second_language",
}


class FileRefused(Exception):
    """The whole file cannot be read as subscribers (code and, when known, line)."""

    def __init__(self, code: str, line: int | None = None):
        super().__init__(code, line)
        self.code = code
        self.line = line


CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def refuse_binary(binary: BinaryIO) -> None:
    """A spreadsheet, image or archive uploaded by mistake: say so, not "not UTF-8"."""
    head = binary.read(8192)
    binary.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return  # refused with a message of its own
    control = CONTROL_BYTES.search(head)
    if control:
        raise FileRefused("binary", head.count(b"\n", 0, control.start()) + 1)


def decoded_lines(binary: Iterable[bytes]) -> Iterator[str]:
    """The file's lines as text, refusing what is not UTF-8 text.

    Only UTF-8 is accepted (with or without a BOM): guessing a legacy encoding such as
    cp1252 would silently turn names into garbage, and an import is a record of consent.
    """
    for number, raw in enumerate(binary, 1):
        if number == 1:
            if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise FileRefused("utf16")
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if b"\0" in raw:
            raise FileRefused("binary", number)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileRefused("encoding", number) from None


def delimiter_of(header: str) -> str:
    """Comma, unless the header line uses semicolons or tabs (as some spreadsheets save)."""
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def records(binary: Iterable[bytes]) -> Iterator[tuple[int, list[str], str]]:
    """(start line, cells, delimiter) for every record, the header first."""
    lines = decoded_lines(binary)
    first = next(lines, None)
    if first is None or not first.strip():
        raise FileRefused("empty")

    def all_lines():
        yield first
        yield from lines

    delimiter = delimiter_of(first)
    reader = csv.reader(all_lines(), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells, delimiter
            start = reader.line_num + 1
    except csv.Error as error:
        code = "field_too_large" if "field limit" in str(error) else "malformed"
        raise FileRefused(code, start) from None


def column_positions(cells: list[str]) -> dict[str, int]:
    """Column positions by name; refuses a header without ``email``."""
    names = [cell.strip().lower() for cell in cells]
    names = [ALIASES.get(name, name) for name in names]
    positions = {}
    for position, name in enumerate(names):
        if name in COLUMNS and name not in positions:
            positions[name] = position
    if "email" not in positions:
        raise FileRefused("no_email_column")
    return positions


def shown(value: str) -> str:
    """A cell as a report may show it: short, one line."""
    value = "".join(ch if ch.isprintable() else "\ufffd" for ch in value)
    return value if len(value) <= MAX_SHOWN_VALUE else value[: MAX_SHOWN_VALUE - 1] + "…"


def cell(cells: list[str], positions: dict[str, int], name: str) -> str:
    position = positions.get(name)
    if position is None or position >= len(cells):
        return ""
    return unneutralized(cells[position].strip())


def chunks(rows: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """Lists of ``size`` (default ``CHUNK_SIZE``) items at a time."""
    size = size or CHUNK_SIZE
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk
