"""Second language of confirmation requests: what a subscribe form asked for

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('confirmation_request') as batch:
        batch.add_column(sa.Column('second_language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('confirmation_request') as batch:
        batch.drop_column('second_language')
