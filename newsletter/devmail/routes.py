"""The dev mailbox: mail caught on a laptop (no ``SMTP_URL``), readable in the browser."""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template

bp = Blueprint("devmail", __name__, url_prefix="/dev/mailbox")

MESSAGE_ID = re.compile(r"[0-9a-f]{32}")
LINK = re.compile(r"""href=["'](https?://[^"'\s]+)["']""")


@dataclass
class StoredMessage:
    id: str
    received: datetime
    message: EmailMessage

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""


@bp.before_request
def only_without_smtp() -> None:
    """Mail goes to a real relay when ``SMTP_URL`` is set; then there is no dev mailbox."""
    if current_app.config["SMTP_URL"]:
        abort(404)


def _folder() -> Path:
    return Path(current_app.config["MAILBOX_PATH"])


def _load(path: Path) -> StoredMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return StoredMessage(id=path.stem, received=received, message=message)


def _message_or_404(message_id: str) -> StoredMessage:
    path = _folder() / f"{message_id}.eml"
    if not MESSAGE_ID.fullmatch(message_id) or not path.is_file():
        abort(404)
    return _load(path)


@bp.route("/")
def inbox():
    paths = sorted(_folder().glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    return render_template("devmail/inbox.html", messages=[_load(p) for p in paths[:200]])


@bp.route("/<message_id>")
def message(message_id: str):
    stored = _message_or_404(message_id)
    links = list(dict.fromkeys(html.unescape(link) for link in LINK.findall(stored.part("html"))))
    return render_template("devmail/message.html", stored=stored, links=links)


@bp.route("/<message_id>/html")
def message_html(message_id: str):
    body = _message_or_404(message_id).part("html")
    # Shown in a sandboxed frame: mail HTML must not run scripts on our origin.
    return Response(
        body,
        mimetype="text/html",
        headers={
            "Content-Security-Policy": (
                "sandbox allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'"
            ),
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@bp.route("/<message_id>/raw")
def message_raw(message_id: str):
    path = _folder() / f"{_message_or_404(message_id).id}.eml"
    return Response(path.read_bytes(), mimetype="text/plain")
