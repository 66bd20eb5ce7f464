"""Layouts: the look around an issue's text (colours, header and footer blocks per language)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:40:00.000000

"""
from datetime import datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    layout = op.create_table(
        'layout',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('is_default', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('brand_color', sa.String(length=7), nullable=True),
        sa.Column('background_color', sa.String(length=7), nullable=True),
        sa.Column('header', sa.JSON(), nullable=False),
        sa.Column('footer', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_layout')),
        sa.UniqueConstraint('name', name=op.f('uq_layout_name')),
    )
    # The layout every issue had so far: no blocks, the organisation's colours.
    op.bulk_insert(
        layout,
        [
            {
                'name': 'Newsletter',
                'is_default': True,
                'header': {},
                'footer': {},
                'updated_at': datetime(2026, 12, 2),
            }
        ],
    )
    with op.batch_alter_table('issue') as batch:
        batch.add_column(sa.Column('layout_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_issue_layout_id_layout'), 'layout', ['layout_id'], ['id'],
            ondelete='RESTRICT',
        )
    op.execute("UPDATE issue SET layout_id = (SELECT id FROM layout WHERE is_default)")


def downgrade():
    with op.batch_alter_table('issue') as batch:
        batch.drop_constraint(batch.f('fk_issue_layout_id_layout'), type_='foreignkey')
        batch.drop_column('layout_id')
    op.drop_table('layout')
