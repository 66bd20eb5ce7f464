"""Subscribers from CSV files: read an upload, check its rows, dry-run it, import it in chunks.

The rules, not the pages: nothing here reads a request. Problems are recorded as codes
(``invalid_email``, ``encoding`` ...) so that each editor reads the report in their own
language; the admin UI turns the codes into sentences.

- ``reading``: bytes to records (encoding, delimiter, header, cells);
- ``checks``: each record checked on its own, duplicates marked;
- ``analysis``: the dry run, and what the database says of a chunk;
- ``writing``: the import a Celery worker runs, a chunk of rows per transaction;
- ``copying``: how a chunk is written on PostgreSQL (COPY into a staging table);
- ``jobs``: where uploads are kept and how a job starts, fails and ends.

File format (see the README): UTF-8 (a BOM is fine), comma-, semicolon- or tab-separated
(told from the header line), a header line naming an ``email`` column and optionally
``name``, ``language`` and ``lists`` (list slugs separated by ``|`` or ``;``).
"""
