"""Click and open tracking, off by default: the organisation's defaults, each issue's
choice, the tracked links of each sent variant, the recorded clicks and opens, and the
totals they are folded into when they grow old

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 14:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('organisation', 'issue'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column('track_clicks', sa.Boolean(), server_default=sa.false(), nullable=False)
            )
            batch.add_column(
                sa.Column('track_opens', sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    op.create_table(
        'issue_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ['issue_id'], ['issue.id'], name=op.f('fk_issue_link_issue_id_issue'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_link')),
        sa.UniqueConstraint('issue_id', 'language', 'position', name=op.f('uq_issue_link_issue_id')),
    )
    op.create_table(
        'tracking_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column(
            'kind',
            sa.Enum('click', 'open', name='tracking_kind', native_enum=False,
                    create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column('position', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('counted', sa.Boolean(), nullable=False),
        sa.Column('user_agent', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ['delivery_id'], ['delivery.id'], name=op.f('fk_tracking_event_delivery_id_delivery'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_event')),
    )
    op.create_index(op.f('ix_tracking_event_delivery_id'), 'tracking_event', ['delivery_id'])
    op.create_index(op.f('ix_tracking_event_at'), 'tracking_event', ['at'])
    op.create_table(
        'tracking_total',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column(
            'kind',
            sa.Enum('click', 'open', name='tracking_kind', native_enum=False,
                    create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column('position', sa.Integer(), nullable=True),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('people', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['issue_id'], ['issue.id'], name=op.f('fk_tracking_total_issue_id_issue'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_total')),
    )
    op.create_index(op.f('ix_tracking_total_issue_id'), 'tracking_total', ['issue_id'])


def downgrade():
    op.drop_index(op.f('ix_tracking_total_issue_id'), table_name='tracking_total')
    op.drop_table('tracking_total')
    op.drop_index(op.f('ix_tracking_event_at'), table_name='tracking_event')
    op.drop_index(op.f('ix_tracking_event_delivery_id'), table_name='tracking_event')
    op.drop_table('tracking_event')
    op.drop_table('issue_link')
    for table in ('issue', 'organisation'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('track_opens')
            batch.drop_column('track_clicks')
