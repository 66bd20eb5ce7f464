"""Registrations: a person's place at an event (pending, registered, waiting, cancelled)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 11:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'registration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('subscriber_id', sa.Integer(), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column(
            'status',
            sa.Enum('pending', 'registered', 'waiting', 'cancelled', name='registration_status',
                    native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['event_id'], ['event.id'],
            name=op.f('fk_registration_event_id_event'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['subscriber_id'], ['subscriber.id'],
            name=op.f('fk_registration_subscriber_id_subscriber'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registration')),
        sa.UniqueConstraint('event_id', 'email', name=op.f('uq_registration_event_id')),
        sa.UniqueConstraint('token', name=op.f('uq_registration_token')),
    )
    op.create_index(op.f('ix_registration_event_id'), 'registration', ['event_id'])
    op.create_index(op.f('ix_registration_subscriber_id'), 'registration', ['subscriber_id'])


def downgrade():
    op.drop_table('registration')
