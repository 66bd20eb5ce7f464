"""Whether what this process depends on answers: the database, the broker and, when one is
configured, the SMTP relay. Each check gives up after a couple of seconds, so a load
balancer's probe never hangs on a dead dependency."""

import os
import smtplib
from pathlib import Path

import redis
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .mail.transport import SMTPTransport

CHECK_SECONDS = 2


def unreachable_dependencies() -> list[str]:
    """The names of the dependencies that don't answer, in a fixed order; empty when all do."""
    config = current_app.config
    checks = {"database": _database_answers, "broker": _broker_answers}
    if config["SMTP_URL"]:
        checks["smtp"] = _smtp_answers
    return [name for name, answers in checks.items() if not answers()]


def _database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    finally:
        db.session.rollback()
    return True


def _broker_answers() -> bool:
    celery = current_app.config["CELERY"]
    if celery["broker_url"] == "filesystem://":
        folder = Path(celery["broker_transport_options"]["data_folder_in"])
        return folder.is_dir() and os.access(folder, os.W_OK)
    client = redis.Redis.from_url(
        celery["broker_url"], socket_timeout=CHECK_SECONDS, socket_connect_timeout=CHECK_SECONDS
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _smtp_answers() -> bool:
    transport = SMTPTransport(current_app.config["SMTP_URL"], timeout=CHECK_SECONDS)
    try:
        transport.check()
    except (smtplib.SMTPException, OSError):
        return False
    return True
