"""Public pages: subscribe, confirm, preference centre, unsubscribe, embeddable form."""

import io
import json
from datetime import UTC
from email.utils import format_datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import attachments, automations, campaigns, organisation, subscriptions
from ..delivery import prepared_variant
from ..extensions import csrf, db
from ..i18n import ui_language
from ..links import external_url
from ..mail import issue_mail
from ..media import library as media_library
from ..models import Issue, IssueStatus, MailingList, Subscriber
from ..request_limits import per_address, per_ip
from ..subscriptions import ConfirmOutcome, RequestInfo
from . import page_cache
from .forms import ConfirmForm, EraseForm, PreferencesForm, SubscribeForm, list_label

bp = Blueprint("public", __name__)


@bp.url_value_preprocessor
def take_language(endpoint, values) -> None:
    if values is None or "lang" not in values:
        return
    lang = values.pop("lang")
    if lang is not None and lang not in current_app.config["LANGUAGES"]:
        abort(404)
    g.lang = lang


@bp.url_defaults
def add_language(endpoint, values) -> None:
    if "lang" not in values and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = str(get_locale())


def request_info(source: str) -> RequestInfo:
    return RequestInfo(ip=request.remote_addr, user_agent=request.user_agent.string, source=source)


@bp.route("/", defaults={"lang": None}, methods=["GET", "POST"])
@bp.route("/<lang>/", methods=["GET", "POST"])
@per_ip
@per_address
def subscribe():
    if request.method == "GET":
        return page_cache.page(render_subscribe_page)
    form = SubscribeForm()
    if form.validate_on_submit():
        if not form.queue(request_info("form")):
            abort(500)
        return redirect(url_for("public.thanks"))
    return render_template("public/subscribe.html", form=form, list_label=list_label), 400


def render_subscribe_page() -> str:
    form = SubscribeForm()
    form.language.data = str(get_locale())
    return render_template("public/subscribe.html", form=form, list_label=list_label)


@bp.errorhandler(429)
def too_many_attempts(error):
    """The subscribe form (the only limited public page) again, with what was typed."""
    notice = _("Too many attempts. Please wait a while and try again.")
    page = render_template(
        "public/subscribe.html", form=SubscribeForm(), list_label=list_label, notice=notice
    )
    return page, 429


@bp.route("/<lang>/thanks")
def thanks():
    return render_template("public/thanks.html")


@bp.route("/<lang>/embed")
def embed():
    snippet = render_template(
        "public/embed_snippet.html",
        lists=subscriptions.public_lists(),
        list_label=list_label,
        action=current_app.config["BASE_URL"] + url_for("api.subscribe", lang=str(get_locale())),
    )
    return render_template("public/embed.html", snippet=snippet)


@bp.route("/<lang>/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        outcome, subscriber = subscriptions.confirm(token, request_info("confirm-link"))
        db.session.commit()
        automations.send_due_now()
    else:
        outcome, subscriber, _request = subscriptions.check_confirmation(token)
    status = 400 if outcome in (ConfirmOutcome.EXPIRED, ConfirmOutcome.INVALID) else 200
    return render_template(
        "public/confirm.html", outcome=outcome.value, subscriber=subscriber, form=form
    ), status


def subscriber_or_404(token: str) -> Subscriber:
    subscriber = subscriptions.subscriber_by_token(token)
    if subscriber is None:
        abort(404)
    return subscriber


def lists_for(subscriber: Subscriber) -> list[MailingList]:
    """Public lists, plus any private list the subscriber is already on (to leave it)."""
    lists = {item.id: item for item in subscriptions.public_lists()}
    for subscription in subscriber.subscriptions:
        lists.setdefault(subscription.list_id, subscription.mailing_list)
    return sorted(lists.values(), key=lambda item: item.id)


def render_preferences(subscriber: Subscriber, form=None, erase_form=None, status=200):
    if form is None:
        form = PreferencesForm(allowed_lists=lists_for(subscriber), formdata=None)
        form.name.data = subscriber.name
        form.language.data = subscriber.language
        form.second_language.data = subscriber.second_language or ""
        form.lists.data = [str(list_id) for list_id in subscriber.list_ids]
    return render_template(
        "public/preferences.html",
        subscriber=subscriber,
        form=form,
        erase_form=erase_form or EraseForm(formdata=None),
        list_label=list_label,
        saved=request.args.get("saved") == "1",
    ), status


@bp.route("/<lang>/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    subscriber = subscriber_or_404(token)
    if request.method == "GET":
        return render_preferences(subscriber)
    form = PreferencesForm(allowed_lists=lists_for(subscriber))
    if not form.validate_on_submit():
        return render_preferences(subscriber, form=form, status=400)
    subscriptions.update_preferences(
        subscriber,
        form.name.data,
        form.language.data,
        form.list_ids,
        request_info("preference-centre"),
        second_language=form.second_language.data,
    )
    db.session.commit()
    automations.send_due_now()
    lang = ui_language(subscriber.language, subscriber.second_language)
    return redirect(url_for("public.preferences", lang=lang, token=token, saved=1))


@bp.route("/<lang>/preferences/<token>/export")
def export(token: str):
    subscriber = subscriber_or_404(token)
    body = json.dumps(subscriptions.export_data(subscriber), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-newsletter-data.json"'},
    )


@bp.route("/<lang>/preferences/<token>/erase", methods=["POST"])
def erase(token: str):
    subscriber = subscriber_or_404(token)
    erase_form = EraseForm()
    if not erase_form.validate_on_submit():
        return render_preferences(subscriber, erase_form=erase_form, status=400)
    subscriptions.erase(subscriber)
    db.session.commit()
    return render_template("public/erased.html")


@bp.route("/<lang>/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """A page with a button, and the RFC 8058 one-click target.

    The POST needs no cookie and no CSRF token (the unguessable token is the credential),
    answers 200 without a redirect, and is idempotent.
    """
    subscriber = subscriber_or_404(token)
    if request.method == "POST":
        left = subscriptions.unsubscribe(subscriber, request_info(_unsubscribe_source()))
        db.session.commit()
        if left:
            subscriptions.queue_goodbye(subscriber)
        return render_template("public/unsubscribed.html", subscriber=subscriber)
    return render_template("public/unsubscribe.html", subscriber=subscriber)


def _unsubscribe_source() -> str:
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "one-click"
    return "unsubscribe-page"


@bp.route("/<lang>/issues/<int:issue_id>")
def view_issue(issue_id: int):
    """An issue as sent, for "view in your browser" (personal links lead to this site)."""
    issue = db.session.get(Issue, issue_id)
    lang = str(get_locale())
    if issue is None or issue.status not in (IssueStatus.SENDING, IssueStatus.SENT):
        abort(404)
    language = lang if issue.variant(lang) else issue.default_language
    html = issue_mail.public_copy(
        prepared_variant(issue, language), external_url("public.subscribe", lang=lang)
    )
    return Response(html, mimetype="text/html")


@bp.route("/<lang>/archive")
def archive():
    entries = campaigns.archive(str(get_locale()))
    return render_template("public/archive.html", entries=entries)


@bp.route("/<lang>/archive.rss")
def archive_feed():
    lang = str(get_locale())
    body = render_template(
        "public/archive_feed.xml",
        entries=campaigns.archive(lang),
        site_url=external_url("public.archive", lang=lang),
        feed_url=external_url("public.archive_feed", lang=lang),
        issue_url=lambda issue_id: external_url("public.view_issue", lang=lang, issue_id=issue_id),
        rfc822=lambda moment: format_datetime(moment.replace(tzinfo=UTC)),
    )
    return Response(body, mimetype="application/rss+xml")


@bp.route("/media/<name>")
def media(name: str):
    """Files admins uploaded for mails and pages (the organisation's logo)."""
    return send_from_directory(organisation.uploads_folder(), name, max_age=86400)


# An image's bytes never change under its id: a new upload gets a new id.
MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable"


@bp.route("/media/<int(max=2147483647):media_id>/<filename>")
def media_file(media_id: int, filename: str):
    """An image of the media library, for mail clients and browsers: no login."""
    item = media_library.find(media_id, filename)
    if item is None:
        abort(404)
    response = Response(item.data, mimetype=item.content_type)
    response.headers["Cache-Control"] = MEDIA_CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="{item.filename}"'
    response.set_etag(item.sha256)
    return response.make_conditional(request)


# A hosted file never changes: a changed file is a new attachment with a new token.
HOSTED_FILE_MAX_AGE = 365 * 24 * 3600


@bp.route("/files/<token>/<filename>")
def hosted_file(token: str, filename: str):
    """A file an issue offers as a download link: always downloaded, never shown inline."""
    attachment = attachments.hosted_file(token, filename)
    if attachment is None:
        abort(404)
    response = send_file(
        io.BytesIO(attachment.data),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        etag=attachment.sha256,
        max_age=HOSTED_FILE_MAX_AGE,
        conditional=True,
    )
    response.cache_control.immutable = True
    return response


from . import events, tracked_links  # noqa: E402, F401  (their pages are on this blueprint)
