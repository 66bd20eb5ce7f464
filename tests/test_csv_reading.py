"""Reading uploaded CSV files, on its own: no database, no worker, no SMTP.

What the import accepts (UTF-8 with or without a BOM, comma, semicolon or tab, quoted
line breaks, a few header aliases) and what it refuses as a whole file, with the code and
line the editor is shown.
"""

import csv
import io

import pytest

from newsletter.csv_export import csv_lines, neutralized, unneutralized
from newsletter.imports.checks import Settings, read_rows
from newsletter.imports.reading import FileRefused, column_positions, records

SETTINGS = Settings(
    languages=["en", "es", "fr", "de"],
    default_language="en",
    list_ids={1},
    lists_by_slug={"news": 1, "events": 2},
)


def read(data: bytes) -> list[tuple[int, list[str], str]]:
    return list(records(io.BytesIO(data)))


def refusal(data: bytes, tmp_path) -> tuple[str, int | None]:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    with pytest.raises(FileRefused) as refused:
        list(read_rows(path, SETTINGS))
    return refused.value.code, refused.value.line


def rows_of(data: bytes, tmp_path, header: dict | None = None) -> list:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    return list(read_rows(path, SETTINGS, header))


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column():
    (_, header, _), (_, row, _) = read("\ufeffemail,name\nana@example.org,Zoë\n".encode())
    assert header == ["email", "name"]
    assert row == ["ana@example.org", "Zoë"]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("email,name,language", ","),
        ("email;name;language", ";"),
        ("email\tname\tlanguage", "\t"),
        ("email;name,with comma;language", ";"),  # the most frequent one wins
        ("email", ","),  # a single column: comma
    ],
)
def test_the_delimiter_is_told_from_the_header_line(header, delimiter):
    assert read(f"{header}\n".encode())[0][2] == delimiter


def test_semicolon_files_keep_commas_inside_cells(tmp_path):
    rows = rows_of(b"email;name\nana@example.org;Garcia, Ana\n", tmp_path)
    assert [(row.email, row.name) for row in rows] == [("ana@example.org", "Garcia, Ana")]


def test_a_quoted_line_break_stays_in_its_cell_and_lines_are_counted_in_the_file():
    found = read(b'email,name\n"ana@example.org","Ana\nGarcia"\nben@example.org,Ben\n')
    assert [(line, cells) for line, cells, _ in found] == [
        (1, ["email", "name"]),
        (2, ["ana@example.org", "Ana\nGarcia"]),
        (4, ["ben@example.org", "Ben"]),
    ]


def test_a_line_break_in_a_name_is_a_problem_of_that_row_only(tmp_path):
    rows = rows_of(b'email,name\nana@example.org,"Ana\r\nBcc: x"\nben@example.org,Ben\n', tmp_path)
    assert [(row.line, row.problem) for row in rows] == [(2, "name_control"), (4, None)]


@pytest.mark.parametrize(
    ("cells", "columns"),
    [
        (["E-Mail", "Name"], {"email": 0, "name": 1}),
        ([" Email Address ", "LIST"], {"email": 0, "lists": 1}),
        (["name", "mail", "language", "email"], {"name": 0, "email": 1, "language": 2}),
        (["email", "phone", "lists"], {"email": 0, "lists": 2}),
    ],
)
def test_header_names_and_aliases(cells, columns):
    assert column_positions(cells) == columns


def test_the_header_report_names_found_and_ignored_columns(tmp_path):
    header: dict = {}
    rows_of(b"Mail;Phone;List\nana@example.org;123;events\n", tmp_path, header)
    assert header == {"delimiter": ";", "columns": ["email", "lists"], "ignored": ["Phone"]}


def test_a_file_without_an_email_column_is_refused(tmp_path):
    assert refusal(b"name,language\nAna,es\n", tmp_path) == ("no_email_column", None)


def test_legacy_encodings_are_refused_not_guessed(tmp_path):
    """No Latin-1 fallback: a guessed encoding would store garbled names as consent."""
    latin1 = "email,name\nana@example.org,Zoë\n".encode("latin-1")
    assert refusal(latin1, tmp_path) == ("encoding", 2)


def test_utf16_is_refused_with_its_own_code(tmp_path):
    data = "email,name\nana@example.org,Ana\n".encode("utf-16")
    assert refusal(data, tmp_path) == ("utf16", None)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", 1),  # a spreadsheet (zip), uploaded by mistake
        (b"email\nana@example.org\nben@exa\x00mple.org\n", 3),
        (b"email\nana@example.org\n\x89PNG\r\n\x1a\n", 4),  # \x1a after the PNG line
    ],
)
def test_binary_files_are_refused_at_the_line_of_the_first_control_byte(data, line, tmp_path):
    assert refusal(data, tmp_path) == ("binary", line)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ("empty", None)),
        (b"   \n", ("empty", None)),
        (b"email\n\n ,\n", ("no_rows", None)),
        (b'email,name\nana@example.org,"never closed\n', ("malformed", 2)),
        (b'email\n"' + b"x" * 200_000 + b'"\n', ("field_too_large", 2)),
    ],
)
def test_files_that_cannot_be_read_say_why(data, code, tmp_path):
    assert refusal(data, tmp_path) == code


@pytest.mark.parametrize(
    "name", ["=HYPERLINK(1)", "+1", "-x", "@SUM(A1)", "\tTab", "\rCR", "'=quoted", "''+two"]
)
def test_a_formula_is_exported_as_text_and_read_back_as_it_was(name):
    assert neutralized(name).startswith("'")
    assert unneutralized(neutralized(name)) == name


@pytest.mark.parametrize("name", ["Ana", "O'Brien", "'quoted'", "1+1", ""])
def test_other_values_are_exported_unchanged(name):
    assert neutralized(name) == unneutralized(name) == name


def test_an_exported_file_imports_back_as_it_was(tmp_path):
    exported = [
        ("ana@example.org", "=cmd|' /C calc'!A0", "es", "en", "confirmed", "news|events", "2026"),
        ("ben@example.org", "-Ben", "de", "", "confirmed", "news", "2026"),
        ("cy@example.org", "Cy 'Quote' \"Marks\"", "fr", "en", "confirmed", "events", "2026"),
    ]
    text = "".join(csv_lines(exported))
    assert text.startswith("\ufeff")
    cells = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert cells[1][1] == "'=cmd|' /C calc'!A0", "a spreadsheet sees text, not a formula"
    rows = rows_of(text.encode(), tmp_path)
    assert [
        (row.email, row.name, row.language, row.second_language, row.list_ids, row.problem)
        for row in rows
    ] == [
        ("ana@example.org", "=cmd|' /C calc'!A0", "es", "en", {1, 2}, None),
        ("ben@example.org", "-Ben", "de", None, {1}, None),
        ("cy@example.org", "Cy 'Quote' \"Marks\"", "fr", "en", {1, 2}, None),
    ]


def test_the_export_streams_in_batches(monkeypatch):
    from newsletter import csv_export

    monkeypatch.setattr(csv_export, "BATCH", 2)
    pieces = list(csv_lines((f"r{n}@example.org",) for n in range(5)))
    assert len(pieces) == 4, "header, two full batches, the rest"
    assert "".join(pieces).count("\r\n") == 6


def test_a_second_language_column_is_checked_like_the_first(tmp_path):
    data = (
        b"email,language,second language\n"
        b"a@example.org,de,EN\n"
        b"b@example.org,de,de-AT\n"
        b"c@example.org,de,klingon\n"
        b"d@example.org,de,\n"
    )
    rows = rows_of(data, tmp_path)
    assert [(row.second_language, row.problem, row.value) for row in rows] == [
        ("en", None, None),
        (None, "same_languages", "de-AT"),
        (None, "unknown_language", "klingon"),
        (None, None, None),
    ]
