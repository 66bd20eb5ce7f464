"""Starting a process: importing the package does no work; building the app binds its own
engine and Celery app, and nothing of other code in the process."""

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from newsletter.extensions import db
from newsletter.models import Subscription

IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib
    import pkgutil

    import celery
    import werkzeug.security
    from sqlalchemy import create_engine

    hashed = []
    real_hash = werkzeug.security.generate_password_hash

    def counting_hash(*args, **kwargs):
        hashed.append(args)
        return real_hash(*args, **kwargs)

    werkzeug.security.generate_password_hash = counting_hash

    import newsletter

    for module in pkgutil.walk_packages(newsletter.__path__, "newsletter."):
        if module.name != "newsletter.worker":  # its job is to build the app
            importlib.import_module(module.name)

    with create_engine("sqlite://").connect() as connection:
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    print(len(hashed), foreign_keys, celery.current_app.main)
    """
)


def test_importing_the_package_hashes_nothing_and_touches_no_other_engine_or_celery_app():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    hashes, foreign_keys, default_celery = result.stdout.split()
    assert hashes == "0", "no password hash is made at import"
    assert foreign_keys == "0", "another engine in the process keeps SQLite's default"
    assert default_celery == "default", "no Celery app is made the default at import"


def test_the_apps_database_refuses_a_row_that_names_a_missing_list(app, in_app):
    """On SQLite too: the app's engine turns foreign keys on for each connection."""

    def subscribe_to_nothing():
        db.session.add(Subscription(subscriber_id=999_999, list_id=999_999))
        db.session.commit()

    with pytest.raises(IntegrityError):
        in_app(subscribe_to_nothing)


def test_an_engine_made_after_the_app_is_left_alone(app):
    with create_engine("sqlite://").connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
