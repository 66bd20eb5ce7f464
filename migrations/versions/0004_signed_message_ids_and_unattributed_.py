"""Message-IDs written by the worker, signed per subscriber; unattributed bounce reports

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

    op.create_table('unattributed_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('hard', 'soft', 'complaint', name='report_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.Enum('not-ours', 'other-recipient', 'delivery-gone', name='unattributed_reason', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unattributed_report'))
    )
    with op.batch_alter_table('unattributed_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unattributed_report_received_at'), ['received_at'], unique=False)


def downgrade():
    with op.batch_alter_table('unattributed_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unattributed_report_received_at'))

    op.drop_table('unattributed_report')

    op.execute("UPDATE delivery SET message_id = '<' || id || '.unsent@localhost>' WHERE message_id IS NULL")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=200), nullable=False)
