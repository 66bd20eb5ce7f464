"""Cursor pagination by id, and rows by id, for the API's views."""

from typing import Any

from sqlalchemy import Select

from ..extensions import db


def cursor_page(query: Select, id_column: Any, cursor: int, limit: int) -> dict:
    """One page of ``query`` ordered by id after ``cursor``, and the cursor of the next page.

    Cursors are ids, so rows added or removed meanwhile never shift a page.
    """
    rows = list(
        db.session.execute(
            query.where(id_column > cursor).order_by(id_column).limit(limit + 1)
        ).scalars()
    )
    items = rows[:limit]
    next_cursor = items[-1].id if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
