"""Cursor pagination by id, and rows by id, for the API's views."""

from typing import Any

from sqlalchemy import Select

from ..extensions import db
from .errors import not_found


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


def get_or_404(model: type, row_id: int, *, for_update: bool = False) -> Any:
    row = db.session.get(model, row_id, with_for_update=for_update)
    if row is None:
        raise not_found()
    return row
