"""A multilingual newsletter and mailing-list manager."""

from pathlib import Path

from flask import Flask, g, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BuildError

from . import config as config_module
from . import hygiene, logs, public_cache, request_limits
from .api.errors import error_response
from .celery_app import celery_init_app
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .i18n import language_name, select_locale, select_timezone, text_direction
from .organisation import current_organisation, logo_url
from .security_headers import init_security_headers


class NewsletterFlask(Flask):
    def select_jinja_autoescape(self, filename: str) -> bool:
        # MJML email templates are markup too: escape what subscribers typed.
        return filename is None or filename.endswith((".html", ".htm", ".xml", ".mjml"))


def create_app(config: dict | None = None) -> Flask:
    """Build the application from the environment, with ``config`` overriding it."""
    settings = config_module.from_environment()
    settings.update(config or {})
    if settings["PRODUCTION"] and settings["SECRET_KEY"] == config_module.DEV_SECRET_KEY:
        raise config_module.ConfigError("SECRET_KEY must be set in production.")
    if settings["PRODUCTION"] and not settings["SMTP_URL"]:
        raise config_module.ConfigError("SMTP_URL must name the mail relay in production.")
    if not settings["REDIS_URL"] and settings["CELERY"]["broker_url"] == "filesystem://":
        for folder in settings["CELERY"]["broker_transport_options"].values():
            if isinstance(folder, str):
                Path(folder).mkdir(parents=True, exist_ok=True)
    Path(settings["INSTANCE"]).mkdir(parents=True, exist_ok=True)

    app = NewsletterFlask(
        __name__,
        template_folder=str(config_module.TEMPLATES),
        instance_path=settings["INSTANCE"],
    )
    app.config.update(settings)
    if app.config["FORWARDED_PROXIES"]:
        # Behind a reverse proxy: take the client's IP and scheme from X-Forwarded-*.
        hops = app.config["FORWARDED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    logs.init_app(app)
    db.init_app(app)
    public_cache.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.MIGRATIONS))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    hygiene.init_app(app)  # first: hostile bytes never reach the CSRF check or a rate-limit key
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(request_limits.add_retry_after)
    login_manager.init_app(app)
    celery_init_app(app)

    from . import tasks  # noqa: F401  (registers the Celery tasks)
    from .admin import bp as admin_bp
    from .api import init_api
    from .cli import register_commands
    from .devmail.routes import bp as devmail_bp
    from .operations.routes import bp as operations_bp
    from .public.routes import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(operations_bp)
    init_api(app)
    if not app.config["PRODUCTION"]:
        # Production always has a relay (config.py); the dev mailbox is not even routed.
        app.register_blueprint(devmail_bp)
    register_commands(app)
    _register_error_pages(app)
    # Browsers ask for /favicon.ico whatever the page says; without this rule it would
    # match the language prefix of the public pages and end in a 404.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"))

    @app.context_processor
    def language_helpers():
        return {
            "language_name": language_name,
            "languages": app.config["LANGUAGES"],
            "language_url": language_url,
            "current_language": str(get_locale()),
            "default_language": app.config["DEFAULT_LANGUAGE"],
            "organisation": current_organisation,
            "logo_url": logo_url,
            "text_direction": text_direction,
            # The side a line starts and ends on, for mail markup that needs left or right.
            "start_side": lambda code: "right" if text_direction(code) == "rtl" else "left",
            "end_side": lambda code: "left" if text_direction(code) == "rtl" else "right",
        }

    init_security_headers(app)

    return app


def language_url(code: str) -> str:
    """The page being shown, in another language (the home page when that can't be built)."""
    rule = request.url_rule
    if request.endpoint and rule is not None and "GET" in rule.methods:
        try:
            return url_for(request.endpoint, **(request.view_args or {}), lang=code)
        except BuildError:
            pass
    return url_for("public.subscribe", lang=code)


def _register_error_pages(app: Flask) -> None:
    messages = {
        400: lambda: _("The request could not be understood."),
        403: lambda: _("You are not allowed to see this page."),
        404: lambda: _("This page does not exist."),
        405: lambda: _("This address does not accept that kind of request."),
        413: lambda: _("What you sent is too large."),
        429: lambda: _("Too many attempts. Please wait a while and try again."),
        500: lambda: _("Something went wrong on our side. Please try again later."),
    }

    def handle(error):
        # First: choosing the language may read the current user, and a failed transaction
        # would turn that read into a second error (and the server's bare error page).
        db.session.rollback()
        # Also when routing failed (404, 405) and no view ran: the URL prefix still counts.
        # Set before the first gettext below, which fixes the locale for the request.
        prefix = request.path.split("/")[1]
        lang = prefix if prefix in app.config["LANGUAGES"] else None
        in_admin = prefix == "admin"
        if in_admin and current_user.is_authenticated:
            # The editor's own language, also where no admin view matched the address.
            lang = current_user.language
        g.setdefault("lang", lang)
        code = getattr(error, "code", 500) or 500
        message = messages.get(code, messages[500])()
        if isinstance(error, CSRFError):
            message = _("This form has expired. Please reload the page and try again.")
        if isinstance(error, hygiene.HostileInput):
            message = str(error.message)
            if request.path.startswith("/api/"):
                return error_response(code, error.api_code, message)
        if request.path.startswith("/api/") or request.is_json:
            response = jsonify({"status": "error", "code": code, "message": message})
        else:
            response = render_template(
                "errors/error.html", message=message, code=code, in_admin=in_admin
            )
        return response, code

    for code in messages:
        app.register_error_handler(code, handle)
