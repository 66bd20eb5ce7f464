"""Automated issues: a welcome and its follow-ups, sent to each new subscriber of their
lists a number of days after they joined

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03 16:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue') as batch:
        batch.add_column(sa.Column('sent_after_days', sa.Integer(), nullable=True))
        batch.create_check_constraint(
            'sent_after_days_range', 'sent_after_days IS NULL OR sent_after_days BETWEEN 0 AND 365'
        )


def downgrade():
    with op.batch_alter_table('issue') as batch:
        batch.drop_constraint('sent_after_days_range', type_='check')
        batch.drop_column('sent_after_days')
