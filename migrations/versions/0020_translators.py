"""Translators: the translator role, the languages each translator may write, and when
the translators of an issue are next told that its source changed

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 10:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

CONSTRAINT = 'ck_user_account_user_role'


def set_roles(*roles: str) -> None:
    """Rebuild the role's check constraint for ``roles`` (on SQLite by copying the table,
    which env.py makes safe by turning foreign keys off while migrating)."""
    allowed = "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"
    if op.get_context().dialect.name != 'sqlite':
        op.drop_constraint(op.f(CONSTRAINT), 'user_account', type_='check')
        op.create_check_constraint(op.f(CONSTRAINT), 'user_account', allowed)
        return
    with op.batch_alter_table('user_account', recreate='always') as batch:
        batch.drop_constraint(op.f(CONSTRAINT), type_='check')
        batch.create_check_constraint(op.f(CONSTRAINT), allowed)


def upgrade():
    set_roles('admin', 'editor', 'translator')
    with op.batch_alter_table('user_account') as batch:
        batch.add_column(
            sa.Column('translation_languages', sa.JSON(), server_default='[]', nullable=False)
        )
    with op.batch_alter_table('issue') as batch:
        batch.add_column(sa.Column('translators_due_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('issue') as batch:
        batch.drop_column('translators_due_at')
    op.execute("UPDATE user_account SET role = 'editor' WHERE role = 'translator'")
    with op.batch_alter_table('user_account') as batch:
        batch.drop_column('translation_languages')
    set_roles('admin', 'editor')
