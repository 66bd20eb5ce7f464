"""The subscribe page as rendered, kept per process for the next visitor.

Rendering its form is most of the page's cost, and every visitor of a language sees the
same page but for their CSRF token. A page is kept under everything it shows (language,
address, and the version of the lists and the organisation's settings); the token is cut
out and the visitor's own put in.
"""

from collections import OrderedDict

from flask import current_app, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from .. import public_cache

TOKEN_MARK = "\x00csrf-token\x00"
KEPT = 64  # languages × addresses asked for (?lang=, tracking parameters)
_pages: OrderedDict[tuple, str] = OrderedDict()


def page(render) -> str:
    """The page ``render()`` makes for this request, from memory when it was made before."""
    stamp = public_cache.version()
    token = generate_csrf()
    if stamp is None:
        return render()
    key = (
        current_app.config["SQLALCHEMY_DATABASE_URI"],
        str(get_locale()),
        request.full_path,
        stamp,
    )
    found = _pages.get(key)
    if found is None:
        html = render()
        if token not in html:  # nothing to put a visitor's token into: keep nothing
            return html
        found = html.replace(token, TOKEN_MARK)
        _pages[key] = found
        while len(_pages) > KEPT:
            _pages.popitem(last=False)
    return found.replace(TOKEN_MARK, token)
