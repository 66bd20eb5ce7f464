"""CSV exports (subscribers, an event's registrations): cells no spreadsheet runs as
formulas, streamed in batches."""

import csv
import io
from collections.abc import Iterable, Iterator

EXPORT_COLUMNS = (
    "email",
    "name",
    "language",
    "second_language",
    "status",
    "lists",
    "created_at",
)
BATCH = 1000
"""Rows written per piece of the streamed response."""
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralized(value: str) -> str:
    """A cell no spreadsheet will run as a formula (OWASP "CSV injection").

    A value that only looks neutralized already (``'=x``) gets a quote too, so that
    ``unneutralized`` gives every value back as it was.
    """
    return "'" + value if value.lstrip("'").startswith(FORMULA_PREFIXES) else value


def unneutralized(value: str) -> str:
    """Undo ``neutralized``: a file we exported imports back as it was."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def csv_lines(rows: Iterable[tuple], columns: tuple[str, ...] = EXPORT_COLUMNS) -> Iterator[str]:
    """The export as text, a batch of rows at a time (for a streamed response).

    Starts with a UTF-8 BOM so that spreadsheets read accents correctly; every cell is
    quoted and neutralized.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for number, row in enumerate(rows, 1):
        writer.writerow([neutralized(str(cell)) for cell in row])
        if number % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
