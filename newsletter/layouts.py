"""Layouts: the look around an issue's text. An issue names one, or none for the default.

A layout overrides the organisation's colours where it sets them and adds a header and a
footer block in each language (Markdown, sanitised like issue bodies). The default layout
as the migration made it has neither, so its mail is the one issues had before layouts.
"""

from .extensions import db
from .models import Issue, Layout


def all_layouts() -> list[Layout]:
    """The default first, then by name."""
    return list(
        db.session.scalars(db.select(Layout).order_by(Layout.is_default.desc(), Layout.name))
    )


def default_layout() -> Layout:
    found = db.session.scalars(db.select(Layout).where(Layout.is_default)).first()
    return found or Layout(id=None, name="Newsletter", is_default=True, header={}, footer={})


def layout_of(issue: Issue | None) -> Layout:
    if issue is not None and issue.layout is not None:
        return issue.layout
    return default_layout()


def make_default(layout: Layout) -> None:
    """``layout`` becomes the one default; the caller commits."""
    db.session.execute(db.update(Layout).where(Layout.id != layout.id).values(is_default=False))
    layout.is_default = True


def in_use(layout: Layout) -> bool:
    query = db.select(Issue.id).where(Issue.layout_id == layout.id).limit(1)
    return db.session.execute(query).first() is not None
