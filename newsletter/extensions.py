"""Extensions created unbound here and bound to the app in ``create_app``."""

import sqlite3
import unicodedata

from flask import Flask
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Database(SQLAlchemy):
    """Flask-SQLAlchemy, with SQLite enforcing foreign keys and folding text for search as
    PostgreSQL does (``search_fold`` there comes from migration 0008)."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        with app.app_context():
            for engine in self.engines.values():
                if engine.dialect.name == "sqlite":
                    event.listen(engine, "connect", _sqlite_like_postgresql)


def search_fold(text: str | None) -> str | None:
    """Lower case without accents: "García" and "garcia" match alike."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _sqlite_like_postgresql(dbapi_connection: sqlite3.Connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.create_function("search_fold", 1, search_fold, deterministic=True)


db = Database(model_class=Base)
migrate = Migrate()
babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.session_protection = "basic"
# The cookie names a row of user_session (revocable on the server), not the user.
login_manager.id_attribute = "get_session_key"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.localize_callback = str  # in the language of the request that is redirected
