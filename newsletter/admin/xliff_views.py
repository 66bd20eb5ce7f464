"""XLIFF files for outside translators in the composer: download one language's file, and
bring the translated file back in. ``xliff`` decides; refusals become messages."""

from flask import Response, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import xliff
from ..campaigns import CampaignError
from ..extensions import db
from ..i18n import language_name
from ..models import Issue
from . import bp
from .auth import accepts_uploads
from .issue_forms import XliffForm
from .translations import issue_and_language

BASE = "/issues/<int:issue_id>/languages/<lang>/xliff"
FORM_ROOM = 64 * 1024  # the multipart envelope and the CSRF token around the file


def _back(issue: Issue, lang: str):
    return redirect(url_for("admin.edit_issue", issue_id=issue.id, _anchor=f"xliff-{lang}"))


@bp.get(BASE)
def download_xliff(issue_id: int, lang: str):
    issue = issue_and_language(issue_id, lang)
    try:
        data = xliff.export(issue, lang)
    except CampaignError:
        abort(404)
    name = xliff.file_name(issue, lang)
    return Response(
        data,
        mimetype="application/xliff+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _too_large():
    flash(_("The file is larger than 512 KB."), "error")
    return redirect(url_for("admin.issues"))


@bp.post(BASE)
@accepts_uploads(lambda: xliff.MAX_BYTES + FORM_ROOM, too_large=_too_large)
def upload_xliff(issue_id: int, lang: str):
    issue = issue_and_language(issue_id, lang)
    form = XliffForm()
    if not form.validate_on_submit():
        flash(_("Please choose a file."), "error")
        return _back(issue, lang)
    try:
        xliff.import_(issue, lang, form.file.data.read(), current_user)
        db.session.commit()
    except xliff.XliffRefused as refused:
        db.session.rollback()
        flash(_("The file was not imported:") + " " + " ".join(refused.problems), "error")
        return _back(issue, lang)
    except CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back(issue, lang)
    flash(
        _("%(language)s: the translation from the file is saved.", language=language_name(lang)),
        "ok",
    )
    return _back(issue, lang)
