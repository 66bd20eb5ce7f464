"""Translation states of variants, the source version each translation follows, the
per-language choice to send the fallback, and the organisation's "require approval"

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-02 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0014'
branch_labels = None
depends_on = None

STATE = sa.Enum(
    'draft', 'ready', 'approved',
    name='translation_state', native_enum=False, create_constraint=True, length=20,
)


def upgrade():
    with op.batch_alter_table('issue_variant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', STATE, server_default='draft', nullable=False))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('source_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('up_to_date_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_issue_variant_approved_by_id_user_account'),
            'user_account', ['approved_by_id'], ['id'], ondelete='SET NULL',
        )
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('require_approval', sa.Boolean(), server_default=sa.false(), nullable=False)
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
    op.execute(
        "UPDATE issue_variant SET state = 'approved', approved_at = updated_at"
        " WHERE issue_id IN (SELECT id FROM issue"
        " WHERE status IN ('sending', 'paused', 'sent', 'cancelled'))"
    )


def downgrade():
    op.drop_table('fallback_choice')
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('require_approval')
    with op.batch_alter_table('issue_variant', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_issue_variant_approved_by_id_user_account'), type_='foreignkey'
        )
        batch_op.drop_column('up_to_date_at')
        batch_op.drop_column('source_version')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('state')
