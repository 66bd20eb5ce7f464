"""Events: times once, texts per language (title, summary, description, place)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 11:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('registration_deadline', sa.DateTime(), nullable=True),
        sa.Column('capacity', sa.Integer(), nullable=True),
        sa.Column('waiting_list', sa.Boolean(), nullable=False),
        sa.Column('online_url', sa.String(length=500), nullable=True),
        sa.Column('published', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_event_ends_after_start')),
        sa.CheckConstraint(
            'capacity IS NULL OR capacity > 0', name=op.f('ck_event_capacity_positive')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event')),
    )
    op.create_index(op.f('ix_event_starts_at'), 'event', ['starts_at'], unique=False)
    op.create_table(
        'event_text',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('place_name', sa.String(length=200), nullable=False),
        sa.Column('place_address', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ['event_id'], ['event.id'],
            name=op.f('fk_event_text_event_id_event'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_text')),
        sa.UniqueConstraint('event_id', 'language', name=op.f('uq_event_text_event_id')),
    )


def downgrade():
    op.drop_table('event_text')
    op.drop_index(op.f('ix_event_starts_at'), table_name='event')
    op.drop_table('event')
