"""Invitations: the events an issue invites to, each subscriber's answer (RSVP), and the
people of an event as an issue's audience

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 13:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

GROUPS = "'registered', 'waiting', 'yes', 'maybe', 'no', 'no_answer'"


def upgrade():
    op.create_table(
        'invitation',
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['issue_id'], ['issue.id'], name=op.f('fk_invitation_issue_id_issue'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['event_id'], ['event.id'], name=op.f('fk_invitation_event_id_event'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('issue_id', 'event_id', name=op.f('pk_invitation')),
    )
    op.create_index(op.f('ix_invitation_event_id'), 'invitation', ['event_id'])
    op.create_table(
        'rsvp',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('subscriber_id', sa.Integer(), nullable=False),
        sa.Column(
            'answer',
            sa.Enum('yes', 'maybe', 'no', name='rsvp_answer', native_enum=False,
                    create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column('answered_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['event_id'], ['event.id'], name=op.f('fk_rsvp_event_id_event'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['subscriber_id'], ['subscriber.id'], name=op.f('fk_rsvp_subscriber_id_subscriber'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rsvp')),
        sa.UniqueConstraint('event_id', 'subscriber_id', name=op.f('uq_rsvp_event_id')),
    )
    op.create_index(op.f('ix_rsvp_subscriber_id'), 'rsvp', ['subscriber_id'])
    with op.batch_alter_table('issue') as batch:
        batch.add_column(sa.Column('audience_event_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('audience_event_group', sa.String(length=20), nullable=True))
        batch.create_foreign_key(
            op.f('fk_issue_audience_event_id_event'), 'event', ['audience_event_id'], ['id'],
            ondelete='SET NULL',
        )
        batch.create_check_constraint(
            op.f('ck_issue_audience_event_group'),
            f"audience_event_group IS NULL OR audience_event_group IN ({GROUPS})",
        )


def downgrade():
    with op.batch_alter_table('issue') as batch:
        batch.drop_constraint(op.f('ck_issue_audience_event_group'), type_='check')
        batch.drop_constraint(op.f('fk_issue_audience_event_id_event'), type_='foreignkey')
        batch.drop_column('audience_event_group')
        batch.drop_column('audience_event_id')
    op.drop_index(op.f('ix_rsvp_subscriber_id'), table_name='rsvp')
    op.drop_table('rsvp')
    op.drop_index(op.f('ix_invitation_event_id'), table_name='invitation')
    op.drop_table('invitation')
