"""Translation states of variants, the source version each translation follows, the
per-language choice to send the fallback, and the organisation's "require approval"

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-02 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = "0015"
branch_labels = None
depends_on = None

STATES = "('draft', 'ready', 'approved')"
# SQLite adds and drops these columns in place: recreating issue_variant would make SQLite,
# with foreign keys on, cascade the drop of the old table into its revisions and files.
SQLITE_COLUMNS = (
    "state VARCHAR(20) DEFAULT 'draft' NOT NULL"
    f" CONSTRAINT ck_issue_variant_translation_state CHECK (state IN {STATES})",
    "source_version INTEGER",
    "up_to_date_at DATETIME",
)
COLUMN_NAMES = ('state', 'source_version', 'up_to_date_at')


def sqlite() -> bool:
    return op.get_context().dialect.name == 'sqlite'


def add_variant_columns():
    if sqlite():
        for column in SQLITE_COLUMNS:
            op.execute(f"ALTER TABLE issue_variant ADD COLUMN {column}")
        return
    op.add_column(
        'issue_variant',
        sa.Column('state', sa.String(length=20), server_default='draft', nullable=False),
    )
    op.create_check_constraint(
        op.f('ck_issue_variant_translation_state'), 'issue_variant', f"state IN {STATES}"
    )
    op.add_column('issue_variant', sa.Column('source_version', sa.Integer(), nullable=True))
    op.add_column('issue_variant', sa.Column('up_to_date_at', sa.DateTime(), nullable=True))


def upgrade():
    add_variant_columns()
    with op.batch_alter_table('organisation', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('require_approval', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        'variant_approval',
        sa.Column('variant_id', sa.Integer(), nullable=False),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['variant_id'], ['issue_variant.id'],
            name=op.f('fk_variant_approval_variant_id_issue_variant'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['approved_by_id'], ['user_account.id'],
            name=op.f('fk_variant_approval_approved_by_id_user_account'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('variant_id', name=op.f('pk_variant_approval')),
    )
    op.create_table(
        'fallback_choice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('chosen_by_id', sa.Integer(), nullable=True),
        sa.Column('chosen_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['issue_id'], ['issue.id'],
            name=op.f('fk_fallback_choice_issue_id_issue'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['chosen_by_id'], ['user_account.id'],
            name=op.f('fk_fallback_choice_chosen_by_id_user_account'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fallback_choice')),
        sa.UniqueConstraint('issue_id', 'language', name=op.f('uq_fallback_choice_issue_id')),
    )
    # Existing translations count as up to date with their source as it is now, and an
    # issue that already went out as approved in every language: nothing sent is re-opened.
    op.execute(
        "UPDATE issue_variant SET source_version = (SELECT source.version FROM issue_variant"
        " AS source JOIN issue ON issue.id = source.issue_id"
        " WHERE source.issue_id = issue_variant.issue_id"
        " AND source.language = issue.default_language)"
        " WHERE language <> (SELECT default_language FROM issue"
        " WHERE issue.id = issue_variant.issue_id)"
    )
    went_out = (
        "issue_id IN (SELECT id FROM issue"
        " WHERE status IN ('sending', 'paused', 'sent', 'cancelled'))"
    )
    op.execute(f"UPDATE issue_variant SET state = 'approved' WHERE {went_out}")
    op.execute(
        "INSERT INTO variant_approval (variant_id, approved_at)"
        f" SELECT id, updated_at FROM issue_variant WHERE {went_out}"
    )


def downgrade():
    op.drop_table('fallback_choice')
    op.drop_table('variant_approval')
    with op.batch_alter_table('organisation', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('require_approval')
    if sqlite():
        for name in reversed(COLUMN_NAMES):
            op.execute(f"ALTER TABLE issue_variant DROP COLUMN {name}")
        return
    for name in reversed(COLUMN_NAMES):
        op.drop_column('issue_variant', name)  # its constraints go with it
