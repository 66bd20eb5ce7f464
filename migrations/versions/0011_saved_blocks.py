"""Saved blocks: snippets with text per language that editors insert into issues

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saved_block',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_block')),
        sa.UniqueConstraint('name', name=op.f('uq_saved_block_name')),
    )


def downgrade():
    op.drop_table('saved_block')
