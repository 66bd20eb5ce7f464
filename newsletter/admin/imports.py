"""Importing subscribers from a CSV file: upload and dry run, confirmation, progress, report.

The upload request only stores the file. Celery workers check it (``tasks.analyse_import``)
and, once the editor confirms the report, import it in chunks (``tasks.import_subscribers``);
meanwhile the job page polls ``progress.json``.
"""

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from kombu.exceptions import OperationalError
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired, ValidationError

from .. import subscriptions
from ..extensions import db
from ..form_fields import ActionForm, MultiCheckboxField
from ..i18n import language_name
from ..imports import checks, jobs
from ..models import ImportJob, ImportStatus, utcnow
from ..subscriptions import MAX_NAME_LENGTH
from ..tasks import analyse_import, import_subscribers
from . import bp
from .auth import accepts_uploads
from .presentation import import_status_label

RECENT_JOBS = 20

FATAL = {
    "empty": _l("The file is empty."),
    "no_rows": _l("The file has a header line but no subscribers."),
    "utf16": _l("The file is saved as UTF-16. Please save it as “CSV UTF-8” and upload it again."),
    "encoding": _l(
        "Line %(line)s is not UTF-8 text. Please save the file as “CSV UTF-8” and upload it again."
    ),
    "binary": _l(
        "Line %(line)s contains binary data: this is not a CSV file. Please save it as "
        "“CSV UTF-8” and upload it again."
    ),
    "no_email_column": _l("The first line must name the columns, and one of them must be “email”."),
    "malformed": _l("Line %(line)s is not valid CSV (perhaps a quote is never closed)."),
    "field_too_large": _l("Line %(line)s has a field far too long for a subscriber."),
    "missing_file": _l("The uploaded file is gone. Please upload it again."),
    "no_consent": _l("Nobody confirmed that these people agreed to receive the newsletter."),
    "not_queued": _l("The file could not be checked. Please upload it again in a moment."),
    "check_error": _l(
        "The file could not be checked because of an error on our side. Please upload it again."
    ),
    "internal": _l(
        "The import stopped because of an error on our side. The rows imported so far stay."
    ),
}

PROBLEMS = {
    "missing_email": (_l("No email address"), _l("There is no email address.")),
    "invalid_email": (_l("Invalid address"), _l("“%(value)s” is not a valid email address.")),
    "non_ascii_local": (
        _l("Address that cannot be reached"),
        _l("“%(value)s” has non-ASCII characters before the @, which our mail cannot reach."),
    ),
    "too_long": (
        _l("Field too long"),
        _l("A field is longer than %(max)s characters."),
    ),
    "name_too_long": (
        _l("Name too long"),
        _l("The name is longer than %(max)s characters: “%(value)s”."),
    ),
    "name_control": (
        _l("Line break in a name"),
        _l("The name contains a line break or a control character: “%(value)s”."),
    ),
    "unknown_language": (
        _l("Unknown language"),
        _l("Unknown language “%(value)s” (use one of: %(languages)s)."),
    ),
    "same_languages": (
        _l("Same second language"),
        _l("The second language “%(value)s” is the same as the first."),
    ),
    "unknown_list": (_l("Unknown list"), _l("There is no list “%(value)s”.")),
    "no_lists": (_l("No list"), _l("There is no list to subscribe to.")),
    "duplicate": (
        _l("Duplicate in the file"),
        _l("The same address as line %(first_line)s; only the first one counts."),
    ),
    "suppressed": (
        _l("Erased or complained"),
        _l("This address was erased or complained about our mail: it is never imported."),
    ),
    "unsubscribed": (
        _l("Unsubscribed earlier"),
        _l("This person unsubscribed: only they can subscribe again."),
    ),
    "bounced": (
        _l("Bounced"),
        _l("Mail to this address bounced: it is not subscribed again."),
    ),
    "complained": (
        _l("Complained"),
        _l("This person complained about our mail: they are not subscribed again."),
    ),
}


def fatal_message(job: ImportJob) -> str:
    fatal = job.report.get("fatal") or {}
    message = FATAL.get(fatal.get("code") or job.error or "internal", FATAL["internal"])
    return str(message) % {"line": fatal.get("line") or "?"}


def problem_label(code: str) -> str:
    return str(PROBLEMS[code][0]) if code in PROBLEMS else code


def problem_message(problem: dict) -> str:
    """One listed problem as a sentence in the editor's language."""
    code = problem.get("code", "")
    if code not in PROBLEMS:
        return code
    values = {
        "value": problem.get("value", ""),
        "first_line": problem.get("first_line", "?"),
        "max": MAX_NAME_LENGTH if code == "name_too_long" else checks.MAX_CELL_LENGTH,
        "languages": ", ".join(current_app.config["LANGUAGES"]),
    }
    return str(PROBLEMS[code][1]) % values


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Please choose a file."))])
    lists = MultiCheckboxField(_l("Subscribe everyone to"), coerce=int)
    language = SelectField(_l("Language when the file gives none"))
    consent = BooleanField(
        _l("These people agreed to receive our newsletter, and I can show it."),
        validators=[DataRequired(_l("Only people who agreed may be imported."))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        language = str(get_locale())
        self.lists.choices = [
            (item.id, item.name_in(language)) for item in subscriptions.all_lists()
        ]
        self.language.choices = [
            (code, language_name(code)) for code in current_app.config["LANGUAGES"]
        ]

    def validate_lists(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Please choose at least one list."))


def max_bytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"]


def recent_jobs() -> list[ImportJob]:
    return list(
        db.session.execute(
            db.select(ImportJob).order_by(ImportJob.id.desc()).limit(RECENT_JOBS)
        ).scalars()
    )


def _upload_page(form: UploadForm, status: int = 200, error: str | None = None):
    return render_template(
        "admin/imports/upload.html",
        form=form,
        error=error,
        jobs=recent_jobs(),
        status_label=import_status_label,
        max_megabytes=max_bytes() // (1024 * 1024),
    ), status


def _too_large():
    message = _(
        "The file is larger than %(size)s MB. Please split it into smaller files.",
        size=max_bytes() // (1024 * 1024),
    )
    return _upload_page(UploadForm(formdata=None), 413, message)


def _display_name(filename: str | None) -> str:
    name = "".join(ch for ch in (filename or "") if ch.isprintable()).strip()
    return name[:255] or "upload.csv"


def create_job(form: UploadForm) -> ImportJob:
    """Store the upload under the instance folder, with who confirmed the people's consent,
    and queue its dry run; if the queue cannot take it, the job fails and the file goes."""
    path = jobs.new_file_path()
    form.file.data.save(path)
    job = ImportJob(
        created_by_id=current_user.id,
        filename=_display_name(form.file.data.filename),
        path=path.name,
        status=ImportStatus.ANALYSING,
        list_ids=sorted(form.lists.data),
        language=form.language.data,
        report={
            "consent_confirmed_by": current_user.id,
            "consent_confirmed_at": utcnow().isoformat(timespec="seconds") + "Z",
        },
    )
    db.session.add(job)
    if path.stat().st_size > max_bytes():  # a body sent without a Content-Length
        path.unlink()
        raise RequestEntityTooLarge()
    db.session.commit()
    try:
        analyse_import.delay(job.id)
    except OperationalError:
        current_app.logger.exception("Could not queue the check of import %s", job.id)
        jobs.fail(job, "not_queued")
        db.session.commit()
    return job


@bp.route("/imports/new", methods=["GET", "POST"])
@accepts_uploads(max_bytes, too_large=_too_large)
def import_upload():
    """The upload form; a valid upload is stored and its job page shown while a worker
    checks it."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, 400 if form.is_submitted() else 200)
    try:
        job = create_job(form)
    except RequestEntityTooLarge:
        db.session.rollback()
        return _too_large()
    return redirect(url_for("admin.import_job", job_id=job.id))


@bp.get("/imports/<int:job_id>")
def import_job(job_id: int):
    """The check in progress, the dry-run report, the progress of a running import, or its
    final report."""
    job = db.get_or_404(ImportJob, job_id)
    counts = job.report.get("counts", {})
    return render_template(
        "admin/imports/job.html",
        job=job,
        form=ActionForm(),
        status_label=import_status_label,
        fatal=fatal_message(job) if job.status == ImportStatus.FAILED else None,
        counts=sorted(counts.items(), key=lambda item: list(PROBLEMS).index(item[0])),
        skipped=sum(counts.values()),
        problem_label=problem_label,
        problem_message=problem_message,
        list_names={item.id: item.name_in(str(get_locale())) for item in subscriptions.all_lists()},
        finished=job.status in (ImportStatus.DONE, ImportStatus.FAILED),
    )


@bp.post("/imports/<int:job_id>/start")
def import_start(job_id: int):
    """The editor confirmed the dry run: a worker imports the file."""
    job = db.get_or_404(ImportJob, job_id)
    if not ActionForm().validate():
        abort(400)
    if job.status == ImportStatus.ANALYSING:
        flash(_("The file is still being checked: please wait for its report."), "info")
        return redirect(url_for("admin.import_job", job_id=job.id))
    if job.status != ImportStatus.ANALYSED:
        flash(_("This import was already started."), "info")
        return redirect(url_for("admin.import_job", job_id=job.id))
    jobs.start_import(job)
    db.session.commit()
    try:
        import_subscribers.delay(job.id)
    except OperationalError:
        current_app.logger.exception("Could not queue import %s", job.id)
        job.status = ImportStatus.ANALYSED
        db.session.commit()
        flash(_("The import could not be started. Please try again in a moment."), "error")
    return redirect(url_for("admin.import_job", job_id=job.id))


@bp.post("/imports/<int:job_id>/discard")
def import_discard(job_id: int):
    """Forget a dry run that will not be imported, and its file.

    A file still being checked waits for its report: a worker is reading it.
    """
    job = db.get_or_404(ImportJob, job_id)
    if not ActionForm().validate():
        abort(400)
    if job.status == ImportStatus.ANALYSING:
        flash(_("The file can be discarded once its check is done."), "error")
        return redirect(url_for("admin.import_job", job_id=job.id))
    if job.status not in (ImportStatus.ANALYSED, ImportStatus.FAILED):
        flash(_("An import that ran is kept as a record."), "error")
        return redirect(url_for("admin.import_job", job_id=job.id))
    jobs.remove_file(job)
    db.session.delete(job)
    db.session.commit()
    flash(_("The file was discarded."), "ok")
    return redirect(url_for("admin.import_upload"))


@bp.get("/imports/<int:job_id>/progress.json")
def import_progress(job_id: int):
    """What the job page shows while a worker checks or imports the file (``total``: the
    rows checked so far while ``analysing``, then the rows of the file)."""
    job = db.get_or_404(ImportJob, job_id)
    return jsonify(
        status=job.status.value,
        label=import_status_label(job.status),
        analysing=job.status == ImportStatus.ANALYSING,
        total=job.total_rows,
        processed=job.processed_rows,
        created=job.created_count,
        updated=job.updated_count,
        skipped=job.skipped_count,
        finished=job.status in (ImportStatus.DONE, ImportStatus.FAILED),
    )
