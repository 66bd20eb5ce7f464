"""Ledger preparation: how far the delivery ledger of a started issue is written

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue') as batch:
        batch.add_column(sa.Column('ledger_total', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('ledger_written', sa.Integer(), nullable=False, server_default='0')
        )
        batch.add_column(sa.Column('ledger_cursor', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('ledger_ready_at', sa.DateTime(), nullable=True))
    # Issues started before this revision wrote their whole ledger at once.
    op.execute(
        "UPDATE issue SET ledger_ready_at = started_at, "
        "ledger_written = (SELECT count(*) FROM delivery WHERE delivery.issue_id = issue.id), "
        "ledger_total = (SELECT count(*) FROM delivery WHERE delivery.issue_id = issue.id) "
        "WHERE started_at IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('issue') as batch:
        batch.drop_column('ledger_ready_at')
        batch.drop_column('ledger_cursor')
        batch.drop_column('ledger_written')
        batch.drop_column('ledger_total')
