"""Second language of subscribers

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscriber") as batch_op:
        batch_op.add_column(sa.Column("second_language", sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(
            "second_language_differs",
            "second_language IS NULL OR second_language <> language",
        )


def downgrade():
    with op.batch_alter_table("subscriber") as batch_op:
        batch_op.drop_constraint("second_language_differs", type_="check")
        batch_op.drop_column("second_language")
