"""``/api/v1/layouts``: the layouts an issue may use (edited in the editors' UI)."""

from .. import layouts
from .auth import token_blueprint
from .schemas import LayoutList

bp = token_blueprint("layouts", "Layouts: the look around an issue's text")


@bp.route("")
@bp.response(200, LayoutList)
def list_layouts() -> dict:
    """Every layout, the default first."""
    return {"items": layouts.all_layouts()}
