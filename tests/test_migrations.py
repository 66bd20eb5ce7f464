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


ANALYSING_JOB = (
    "INSERT INTO import_job (id, filename, path, status, list_ids, language, total_rows,"
    " processed_rows, created_count, updated_count, skipped_count, report, created_at)"
    " VALUES (:id, 'people.csv', 'x.csv', 'analysing', '[]', 'en', 0, 0, 0, 0, 0, '{}', :now)"
)


def test_jobs_being_checked_fail_when_the_check_in_a_worker_is_downgraded(app, in_app):
    """Before 0029 no worker checks an upload: a job still "analysing" fails (and can be
    discarded), and the status is refused again; upgrading allows it once more."""

    def insert_analysing(job_id: int) -> None:
        db.session.execute(text(ANALYSING_JOB), {"id": job_id, "now": utcnow()})
        db.session.commit()

    def status_of(job_id: int) -> tuple[str, str | None]:
        query = text("SELECT status, error FROM import_job WHERE id = :id")
        return tuple(db.session.execute(query, {"id": job_id}).one())

    in_app(insert_analysing, 900)
    try:
        in_app(downgrade, revision="0028")
        assert in_app(status_of, 900) == ("failed", "internal")
        with pytest.raises(IntegrityError):
            in_app(insert_analysing, 901)
    finally:
        in_app(upgrade)
    in_app(insert_analysing, 902)
    assert in_app(status_of, 902) == ("analysing", None)
