"""``/api/v1/lists``: the mailing lists (topics), with their names per language."""

from flask import current_app
from flask_babel import gettext as _

from ..extensions import db
from ..models import MailingList
from .auth import token_blueprint
from .errors import ApiError, invalid
from .pagination import cursor_page
from .schemas import ListCreate, ListPage, ListSchema, ListUpdate, PageArgs

bp = token_blueprint("lists", "Mailing lists")
ID = "<int(max=2147483647):list_id>"


def _check_slug_free(slug: str, list_id: int | None = None) -> None:
    taken = db.session.execute(
        db.select(MailingList.id).where(MailingList.slug == slug, MailingList.id != list_id)
    ).first()
    if taken:
        raise ApiError(409, "slug_taken", _("Another list has this slug already."))


def _apply(item: MailingList, data: dict) -> None:
    default = current_app.config["DEFAULT_LANGUAGE"]
    if "names" in data and not data["names"].get(default, "").strip():
        raise invalid(
            {"names": [_("A name in the default language (%(code)s) is needed.", code=default)]}
        )
    if "slug" in data:
        _check_slug_free(data["slug"], item.id)
        item.slug = data["slug"]
    for name in ("names", "descriptions"):
        if name in data:
            # A new dict: the JSON column notices only a replaced value.
            setattr(item, name, {k: v.strip() for k, v in data[name].items()})
    if "public" in data:
        item.public = data["public"]


@bp.route("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, ListPage)
def list_lists(args: dict) -> dict:
    """Every list, public or not, by id."""
    return cursor_page(db.select(MailingList), MailingList.id, args["cursor"], args["limit"])


@bp.route("", methods=["POST"])
@bp.arguments(ListCreate)
@bp.response(201, ListSchema)
@bp.alt_response(409, response="CONFLICT")
def create(data: dict) -> MailingList:
    """A new list; `names` maps language codes to the name shown to subscribers."""
    item = MailingList(slug=data["slug"], names={}, descriptions={})
    _apply(item, data)
    db.session.add(item)
    db.session.commit()
    return item


@bp.route(f"/{ID}")
@bp.response(200, ListSchema)
@bp.alt_response(404, response="NOT_FOUND")
def read(list_id: int) -> MailingList:
    """One list."""
    return db.get_or_404(MailingList, list_id)


@bp.route(f"/{ID}", methods=["PATCH"])
@bp.arguments(ListUpdate)
@bp.response(200, ListSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def update(data: dict, list_id: int) -> MailingList:
    """Change a list's slug, names, descriptions or visibility on the public form."""
    item = db.get_or_404(MailingList, list_id)
    _apply(item, data)
    db.session.commit()
    return item
