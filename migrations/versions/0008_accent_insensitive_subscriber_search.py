"""Accent- and case-insensitive subscriber search: search_fold() and trigram indexes

On PostgreSQL, ``search_fold(text)`` is ``lower(unaccent(text))`` (the unaccent and
pg_trgm extensions, trusted since PostgreSQL 13, so a database owner may create them),
and trigram indexes on the folded address and name keep a search by part of a name
fast at millions of rows. SQLite gets the same function from the app on every
connection (``newsletter.extensions``), so there is nothing to do there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS unaccent')
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    # IMMUTABLE (with the dictionary named) so that indexes may use it.
    op.execute(
        "CREATE OR REPLACE FUNCTION search_fold(text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
        "AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$"
    )
    op.execute(
        'CREATE INDEX ix_subscriber_email_search ON subscriber '
        'USING gin (search_fold(email) gin_trgm_ops)'
    )
    op.execute(
        'CREATE INDEX ix_subscriber_name_search ON subscriber '
        'USING gin (search_fold(name) gin_trgm_ops)'
    )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP INDEX IF EXISTS ix_subscriber_name_search')
    op.execute('DROP INDEX IF EXISTS ix_subscriber_email_search')
    op.execute('DROP FUNCTION IF EXISTS search_fold(text)')
