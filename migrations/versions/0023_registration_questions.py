"""Registration questions: which ones an event asks, the free question's label per
language, and each registration's answers

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 11:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('event') as batch:
        batch.add_column(sa.Column('questions', sa.JSON(), server_default='{}', nullable=False))
    with op.batch_alter_table('event_text') as batch:
        batch.add_column(
            sa.Column('free_question', sa.String(length=200), server_default='', nullable=False)
        )
    with op.batch_alter_table('registration') as batch:
        batch.add_column(sa.Column('answers', sa.JSON(), server_default='{}', nullable=False))


def downgrade():
    with op.batch_alter_table('registration') as batch:
        batch.drop_column('answers')
    with op.batch_alter_table('event_text') as batch:
        batch.drop_column('free_question')
    with op.batch_alter_table('event') as batch:
        batch.drop_column('questions')
