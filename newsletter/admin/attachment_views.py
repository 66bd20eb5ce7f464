"""Files of an issue's language variants in the composer: upload (attached or as a link)
and removal. ``attachments`` decides what is accepted; refusals become messages."""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from .. import attachments, campaigns
from ..extensions import db
from ..form_fields import ActionForm
from ..i18n import file_size
from ..models import Issue
from . import bp
from .auth import accepts_uploads
from .issue_forms import AttachmentForm


def _back(issue: Issue, language: str):
    if not campaigns.is_editable(issue):
        return redirect(url_for("admin.campaign", issue_id=issue.id))
    # ?lang= would also change the page's language: the anchor names the panel instead.
    return redirect(
        url_for("admin.edit_issue", issue_id=issue.id, _anchor=f"attachments-{language}")
    )


def _upload_too_large():
    flash(_("A file can be at most %(max)s.", max=file_size(attachments.hosted_limit())), "error")
    args = request.view_args or {}
    return redirect(
        url_for(
            "admin.edit_issue",
            issue_id=args.get("issue_id"),
            _anchor=f"attachments-{args.get('language')}",
        )
    )


@bp.post("/issues/<int:issue_id>/variants/<language>/attachments")
@accepts_uploads(attachments.upload_limit, too_large=_upload_too_large)
def add_attachment(issue_id: int, language: str):
    issue = db.get_or_404(Issue, issue_id)
    form = AttachmentForm()
    if not form.validate_on_submit():
        flash(_("Please choose a file."), "error")
        return _back(issue, language)
    upload = form.file.data
    try:
        attachment = attachments.add_attachment(
            issue, language, upload.filename or "", upload.read(), form.link_only.data
        )
        db.session.commit()
    except (campaigns.CampaignError, attachments.AttachmentError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back(issue, language)
    flash(_("“%(name)s” is added.", name=attachment.filename), "ok")
    return _back(issue, language)


@bp.post("/issues/<int:issue_id>/variants/<language>/attachments/<int:attachment_id>/delete")
def remove_attachment(issue_id: int, language: str, attachment_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    issue = db.get_or_404(Issue, issue_id)
    try:
        attachments.remove_attachment(issue, language, attachment_id)
        db.session.commit()
    except (campaigns.CampaignError, attachments.AttachmentError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back(issue, language)
    flash(_("The file is removed."), "ok")
    return _back(issue, language)
