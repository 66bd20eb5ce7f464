"""The migrations build exactly the schema the models describe, on every database."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from newsletter.extensions import db
from newsletter.models import not_a_search_index, utcnow


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


PARENTS_AND_CHILDREN = [
    "INSERT INTO mailing_list (id, slug, names, descriptions, public, created_at)"
    " VALUES (900, 'kept', '{}', '{}', true, :now)",
    "INSERT INTO subscriber (id, email, name, language, status, token, soft_bounces,"
    " created_at, updated_at) VALUES (900, 'kept@example.org', 'Kept', 'en', 'confirmed',"
    " 'kept-token', 0, :now, :now)",
    "INSERT INTO subscription (subscriber_id, list_id, created_at) VALUES (900, 900, :now)",
    "INSERT INTO consent (subscriber_id, action, source, list_ids, wording_version, language,"
    " created_at) VALUES (900, 'subscribe', 'test', '[900]', 'v', 'en', :now)",
    "INSERT INTO issue (id, name, default_language, fallback, status, created_at, updated_at)"
    " VALUES (900, 'Kept', 'en', 'default', 'draft', :now, :now)",
    "INSERT INTO issue_variant (id, issue_id, language, subject, preheader, body, updated_at)"
    " VALUES (900, 900, 'en', 'Kept', '', 'Kept body', :now)",
    "INSERT INTO issue_list (issue_id, list_id) VALUES (900, 900)",
]
CHILD_TABLES = ["subscription", "consent", "issue_variant", "issue_list"]


def test_upgrading_keeps_every_row_that_references_a_rebuilt_table(app, in_app):
    """SQLite changes a table's constraints by copying it and dropping the old one; with
    foreign keys on, that drop would delete every row pointing at it (ON DELETE CASCADE).
    Rows written before migration 0010 (which rebuilds ``issue``) and 0015 (``subscriber``)
    are all there after the last one."""

    def rows_through_the_migrations():
        downgrade(revision="0009")
        for statement in PARENTS_AND_CHILDREN:
            db.session.execute(text(statement), {"now": utcnow()})
        db.session.commit()
        upgrade()
        counts = {
            table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in CHILD_TABLES
        }
        foreign_keys = None
        if db.engine.dialect.name == "sqlite":
            foreign_keys = db.session.execute(text("PRAGMA foreign_keys")).scalar()
        return counts, foreign_keys

    counts, foreign_keys = in_app(rows_through_the_migrations)
    assert counts == {table: 1 for table in CHILD_TABLES}
    assert foreign_keys in (None, 1), "the app's connections enforce foreign keys again"
