"""Versions of variants: a counter on each variant and the text of every saved version

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue_variant') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    op.create_table(
        'variant_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('variant_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('preheader', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('saved_at', sa.DateTime(), nullable=False),
        sa.Column('saved_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['variant_id'], ['issue_variant.id'],
            name=op.f('fk_variant_revision_variant_id_issue_variant'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['saved_by_id'], ['user_account.id'],
            name=op.f('fk_variant_revision_saved_by_id_user_account'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_variant_revision')),
        sa.UniqueConstraint('variant_id', 'version', name=op.f('uq_variant_revision_variant_id')),
    )
    # Every existing variant is its own version 1, saved when it was last changed.
    op.execute(
        'INSERT INTO variant_revision'
        ' (variant_id, version, subject, preheader, body, saved_at, saved_by_id)'
        ' SELECT id, 1, subject, preheader, body, updated_at, NULL FROM issue_variant'
    )


def downgrade():
    op.drop_table('variant_revision')
    with op.batch_alter_table('issue_variant') as batch:
        batch.drop_column('version')
