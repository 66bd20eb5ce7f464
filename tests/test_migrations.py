"""The migrations build exactly the schema the models describe, on every database."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from newsletter.extensions import db
from newsletter.models import not_a_search_index


def test_migrated_schema_matches_the_models(in_app):
    def differences():
        with db.engine.connect() as connection:
            opts = {"compare_type": True, "include_object": not_a_search_index}
            context = MigrationContext.configure(connection, opts=opts)
            return compare_metadata(context, db.metadata)

    assert in_app(differences) == []


def test_database_enforces_unique_email_and_status_values(in_app):
    def insert(email: str, status: str) -> None:
        db.session.execute(
            text(
                "INSERT INTO subscriber (email, language, status, token, created_at, updated_at)"
                " VALUES (:email, 'en', :status, :token, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"email": email, "status": status, "token": email},
        )
        db.session.commit()

    in_app(insert, "one@example.org", "confirmed")
    with pytest.raises(IntegrityError):
        in_app(insert, "one@example.org", "pending")
    with pytest.raises(IntegrityError):
        in_app(insert, "two@example.org", "sleeping")
