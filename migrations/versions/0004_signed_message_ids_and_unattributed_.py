"""Message-IDs written by the worker, signed per subscriber

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # The ledger is written before any Message-ID exists: the worker that first handles a
    # row sets it.
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=200), nullable=True)


def downgrade():
    op.execute("UPDATE delivery SET message_id = '<' || id || '.unsent@localhost>' WHERE message_id IS NULL")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=200), nullable=False)
