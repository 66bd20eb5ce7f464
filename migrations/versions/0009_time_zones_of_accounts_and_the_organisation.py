"""Time zones: the organisation's, and optionally each account's own

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisation') as batch:
        batch.add_column(
            sa.Column('time_zone', sa.String(length=64), nullable=False, server_default='UTC')
        )
    with op.batch_alter_table('user_account') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account') as batch:
        batch.drop_column('time_zone')
    with op.batch_alter_table('organisation') as batch:
        batch.drop_column('time_zone')
