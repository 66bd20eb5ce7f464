"""Configuration read from the environment, with a zero-setup default for a laptop."""

import ipaddress
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A checkout keeps templates, catalogs and migrations at its top level; an installed wheel
# carries copies inside the package (setup.py), and its instance folder is the working one.
BUNDLED = Path(__file__).resolve().parent / "bundled"
DATA = BUNDLED if BUNDLED.is_dir() else ROOT
TEMPLATES = DATA / "templates"
TRANSLATIONS = DATA / "translations"
MIGRATIONS = DATA / "migrations"
INSTANCE = Path(
    os.environ.get("INSTANCE_PATH", ROOT / "instance" if DATA == ROOT else Path.cwd() / "instance")
)
DEV_SECRET_KEY = "dev-only-not-secret"


class ConfigError(RuntimeError):
    """The configuration cannot run the application safely."""


def _languages(raw: str) -> list[str]:
    return [code.strip() for code in raw.split(",") if code.strip()]


LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")


def _reader_languages(languages: list[str], raw: str) -> list[str]:
    """The interface's languages, then the others readers may name (``ca``, ``pt``)."""
    extra = _languages(raw)
    for code in extra:
        if not LANGUAGE_CODE.fullmatch(code):
            raise ConfigError(f"READER_LANGUAGES: {code!r} is not a language code such as ca.")
    return languages + [code for code in extra if code not in languages]


def from_environment(env: dict[str, str] | None = None) -> dict:
    """Build the Flask config from environment variables (see the README's table)."""
    env = dict(os.environ if env is None else env)
    instance = Path(env.get("INSTANCE_PATH", INSTANCE))
    production = env.get("FLASK_ENV", env.get("APP_ENV", "")).lower() == "production"
    secret_key = env.get("SECRET_KEY", "")
    if production and (not secret_key or secret_key == DEV_SECRET_KEY):
        raise ConfigError("SECRET_KEY must be set to a long random value in production.")
    if production and not env.get("SMTP_URL"):
        # Without a relay, mail would go to the dev mailbox and never reach anyone.
        raise ConfigError("SMTP_URL must name the mail relay in production (smtp://host:port).")
    languages = _languages(env.get("LANGUAGES", "en,es,fr,de"))
    default_language = env.get("DEFAULT_LANGUAGE", languages[0])
    if default_language not in languages:
        raise ConfigError(f"DEFAULT_LANGUAGE {default_language!r} is not in LANGUAGES.")
    redis_url = env.get("REDIS_URL") or None
    base_url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance}/newsletter.db"
    engine_options: dict = {"pool_pre_ping": True}
    if database_url.startswith("sqlite"):
        # The web app and a worker write to one file: wait for the lock rather than fail.
        engine_options["connect_args"] = {"timeout": 30}
    return {
        "PRODUCTION": production,
        "SECRET_KEY": secret_key or DEV_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "REDIS_URL": redis_url,
        "SMTP_URL": env.get("SMTP_URL") or None,
        "MAILBOX_PATH": str(instance / "mailbox"),
        "BASE_URL": base_url,
        "MAIL_FROM": env.get("MAIL_FROM", "Newsletter <newsletter@localhost>"),
        "LANGUAGES": languages,
        "READER_LANGUAGES": _reader_languages(languages, env.get("READER_LANGUAGES", "")),
        "DEFAULT_LANGUAGE": default_language,
        "BABEL_DEFAULT_LOCALE": default_language,
        "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS),
        "CORS_ORIGINS": _languages(env.get("CORS_ORIGINS", "")),
        "CONFIRM_MAX_AGE": int(env.get("CONFIRM_MAX_AGE", 7 * 24 * 3600)),
        "CONFIRM_RESEND_INTERVAL": int(env.get("CONFIRM_RESEND_INTERVAL", 600)),
        "SUBSCRIBE_LIMIT_PER_IP": env.get("SUBSCRIBE_LIMIT_PER_IP", "100/hour;10/minute"),
        "SUBSCRIBE_LIMIT_PER_ADDRESS": env.get("SUBSCRIBE_LIMIT_PER_ADDRESS", "5/hour"),
        "LOGIN_LIMIT_PER_IP": env.get("LOGIN_LIMIT_PER_IP", "30/hour;10/minute"),
        "LOGIN_LIMIT_PER_ACCOUNT": env.get("LOGIN_LIMIT_PER_ACCOUNT", "20/hour;5/minute"),
        "LOGIN_CODE_LIMIT_PER_IP": env.get("LOGIN_CODE_LIMIT_PER_IP", "30/hour;10/minute"),
        "LOGIN_CODE_LIMIT_PER_ACCOUNT": env.get("LOGIN_CODE_LIMIT_PER_ACCOUNT", "20/hour;5/minute"),
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT", "600/minute"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": base_url.startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_KEY_PREFIX": "newsletter-limits",
        # A moving window: no burst of twice the limit around a window's edge.
        "RATELIMIT_STRATEGY": "moving-window",
        # Only Retry-After, on a refusal (request_limits.add_retry_after).
        "RATELIMIT_HEADERS_ENABLED": False,
        # If Redis is briefly unreachable, count in memory rather than refuse everyone.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "FORWARDED_PROXIES": int(env.get("FORWARDED_PROXIES", 0)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "IMPORT_MAX_BYTES": int(env.get("IMPORT_MAX_BYTES", 50 * 1024 * 1024)),
        # Media library uploads: bytes of one file, and pixels of one image (a small PNG
        # can unpack to gigabytes; the limit is checked before any pixel is decoded).
        "MEDIA_MAX_BYTES": int(env.get("MEDIA_MAX_BYTES", 10 * 1024 * 1024)),
        "MEDIA_MAX_PIXELS": int(env.get("MEDIA_MAX_PIXELS", 50_000_000)),
        # Attached files per message (per variant), and one file offered as a download link.
        "ATTACHMENT_MAX_BYTES": int(env.get("ATTACHMENT_MAX_BYTES", 5_000_000)),
        "HOSTED_FILE_MAX_BYTES": int(env.get("HOSTED_FILE_MAX_BYTES", 25_000_000)),
        "IMPORT_TASK_SECONDS": float(env.get("IMPORT_TASK_SECONDS", 120)),
        "INSTANCE": str(instance),
        "CELERY": _celery_config(redis_url, instance, env),
        "SOFT_BOUNCE_LIMIT": int(env.get("SOFT_BOUNCE_LIMIT", 3)),
        # Changes of an issue's source wait this long for more before its translators
        # get one mail about all of them.
        "TRANSLATOR_MAIL_INTERVAL": float(env.get("TRANSLATOR_MAIL_INTERVAL", 600)),
        # Ledger rows written per transaction when a campaign starts (the first chunk in
        # the request, the rest by the delivery tasks).
        "LEDGER_CHUNK_ROWS": int(env.get("LEDGER_CHUNK_ROWS", 20_000)),
        "BOUNCE_WEBHOOK_TOKEN": env.get("BOUNCE_WEBHOOK_TOKEN") or None,
        # Outgoing webhooks (webhooks.py): endpoints on loopback or private networks are
        # refused unless this is "true" (a webhook must not reach into the local network).
        "WEBHOOKS_ALLOW_PRIVATE": env.get("WEBHOOKS_ALLOW_PRIVATE", "").lower() == "true",
        "WEBHOOK_TIMEOUT": float(env.get("WEBHOOK_TIMEOUT", 5)),
        "WEBHOOK_MAX_ATTEMPTS": int(env.get("WEBHOOK_MAX_ATTEMPTS", 10)),
        # Clicks and opens (tracking.py): the Redis list hits wait in for the workers, and
        # how long the per-person rows are kept before they are folded into totals.
        "TRACKING_BUFFER": f"newsletter-tracking:{env.get('CELERY_QUEUE', 'celery')}",
        "PUBLIC_VERSION_KEY": f"newsletter-public:{env.get('CELERY_QUEUE', 'celery')}",
        "TRACKING_RETENTION_DAYS": int(env.get("TRACKING_RETENTION_DAYS", 396)),
        # /metrics answers a bearer of this token or a client in these networks; else 404.
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "LOG_FORMAT": _log_format(env.get("LOG_FORMAT", "text")),
        "METRICS_ALLOWED_IPS": _networks(env.get("METRICS_ALLOWED_IPS", "")),
        # A worker serves its own metrics on this port when it is set.
        "WORKER_METRICS_PORT": int(env["WORKER_METRICS_PORT"])
        if env.get("WORKER_METRICS_PORT")
        else None,
        "WORKER_METRICS_ADDRESS": env.get("WORKER_METRICS_ADDRESS", "127.0.0.1"),
        "BOUNCE_ADDRESS": _bounce_address(env.get("BOUNCE_ADDRESS", "")),
        # An IMAP folder the workers read bounce reports from (bounce_mailbox.py).
        "BOUNCE_IMAP": _imap_mailbox(env.get("BOUNCE_IMAP_URL", "")),
        "UNSUBSCRIBE_MAILTO": env.get("UNSUBSCRIBE_MAILTO") or None,
        "DKIM_SELECTOR": env.get("DKIM_SELECTOR") or None,
        "DKIM_DOMAIN": env.get("DKIM_DOMAIN") or None,
        "DKIM_KEY_FILE": env.get("DKIM_KEY_FILE") or None,
        # Sending: 0 means no limit. The budget is shared by all workers through Redis.
        "SEND_RATE_PER_SECOND": int(env.get("SEND_RATE_PER_SECOND", 0)),
        "SEND_RATE_PER_HOUR": int(env.get("SEND_RATE_PER_HOUR", 0)),
        "DELIVERY_BATCH_SIZE": int(env.get("DELIVERY_BATCH_SIZE", 500)),
        "DELIVERY_LEASE_SECONDS": int(env.get("DELIVERY_LEASE_SECONDS", 120)),
        "DELIVERY_MAX_ATTEMPTS": int(env.get("DELIVERY_MAX_ATTEMPTS", 6)),
        "DELIVERY_RETRY_SECONDS": float(env.get("DELIVERY_RETRY_SECONDS", 60)),
        "DELIVERY_CONNECTION_RETRY_SECONDS": float(
            env.get("DELIVERY_CONNECTION_RETRY_SECONDS", 30)
        ),
        "DELIVERY_TASKS": int(env.get("DELIVERY_TASKS", 4)),
        "DELIVERY_TASK_SECONDS": float(env.get("DELIVERY_TASK_SECONDS", 30)),
    }


def _bounce_address(raw: str) -> str | None:
    """The mailbox whose plus-addresses become each campaign message's envelope sender."""
    raw = raw.strip()
    if not raw:
        return None
    local, _, domain = raw.rpartition("@")
    if not local or not domain or any(ch in raw for ch in '<>"\\ ,;'):
        raise ConfigError(f"BOUNCE_ADDRESS {raw!r} is not an address such as bounces@example.org.")
    return raw


def _celery_config(redis_url: str | None, instance: Path, env: dict[str, str]) -> dict:
    queue = env.get("CELERY_QUEUE", "celery")
    common = {
        "task_default_queue": queue,
        # Campaign delivery may get queues (and workers) of its own: DELIVERY_QUEUE.
        "task_routes": {
            "newsletter.tasks.deliver_issue": {"queue": env.get("DELIVERY_QUEUE", queue)},
            "newsletter.tasks.watch_campaigns": {"queue": env.get("DELIVERY_QUEUE", queue)},
            "newsletter.tasks.send_automations": {"queue": env.get("DELIVERY_QUEUE", queue)},
            # Periodic like the watcher, and on the same workers.
            "newsletter.tasks.read_bounce_mailbox": {"queue": env.get("DELIVERY_QUEUE", queue)},
            "newsletter.tasks.send_webhooks": {"queue": env.get("DELIVERY_QUEUE", queue)},
            "newsletter.tasks.store_tracking": {"queue": env.get("DELIVERY_QUEUE", queue)},
            "newsletter.tasks.fold_tracking": {"queue": env.get("DELIVERY_QUEUE", queue)},
        },
        # Starts scheduled issues and resumes any whose workers died (celery beat, or -B).
        "beat_schedule": {
            "watch-campaigns": {
                "task": "newsletter.tasks.watch_campaigns",
                "schedule": float(env.get("WATCH_INTERVAL", 30)),
            },
            "tell-translators": {
                "task": "newsletter.tasks.tell_translators",
                "schedule": float(env.get("WATCH_INTERVAL", 30)),
            },
            "send-webhooks": {
                "task": "newsletter.tasks.send_webhooks",
                "schedule": float(env.get("WEBHOOK_INTERVAL", 5)),
            },
            "store-tracking": {
                "task": "newsletter.tasks.store_tracking",
                "schedule": float(env.get("TRACKING_INTERVAL", 5)),
            },
            "fold-tracking": {"task": "newsletter.tasks.fold_tracking", "schedule": 3600.0},
        }
        | (
            {
                "read-bounce-mailbox": {
                    "task": "newsletter.tasks.read_bounce_mailbox",
                    "schedule": float(env.get("BOUNCE_IMAP_INTERVAL", 300)),
                }
            }
            if env.get("BOUNCE_IMAP_URL")
            else {}
        ),
        "beat_schedule_filename": str(instance / "celerybeat-schedule"),
        "task_ignore_result": True,
        # A mail task is acknowledged only after it ran, so a worker killed mid-send
        # leaves the message on the broker for another worker; the tasks are idempotent.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Prefetch one task at a time: a crashed worker holds back as little as possible.
        "worker_prefetch_multiplier": 1,
    }
    if redis_url:
        return common | {
            "broker_url": redis_url,
            # Unacknowledged tasks return to the queue after this long; it must exceed the
            # longest task (a delivery task stops after DELIVERY_TASK_SECONDS and queues its
            # continuation). The campaign watcher resumes a dead worker's issue sooner.
            "broker_transport_options": {"visibility_timeout": 600},
        }
    broker = instance / "broker"
    return common | {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "processed_folder": str(broker / "processed"),
            "control_folder": str(broker / "control"),
            "store_processed": False,
            "polling_interval": 0.2,
        },
    }


def _networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in value.split(",")
            if part.strip()
        ]
    except ValueError as error:
        raise ConfigError(f"METRICS_ALLOWED_IPS: {error}.") from error


def _log_format(value: str) -> str:
    if value not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT must be text or json, not {value!r}.")
    return value


def _imap_mailbox(url: str):
    if not url:
        return None
    from .bounce_mailbox import ImapMailbox  # the mailbox reader knows its address format

    try:
        return ImapMailbox.from_url(url)
    except ValueError as error:
        raise ConfigError(f"BOUNCE_IMAP_URL: {error}.") from error
