"""The dry run of a CSV import in a worker: a job is "analysing" from the upload until its
file is checked

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 20:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

CONSTRAINT = 'ck_import_job_import_status'
STATUSES = ('analysed', 'queued', 'running', 'done', 'failed')


def set_statuses(*statuses: str) -> None:
    """Rebuild the status's check constraint for ``statuses`` (on SQLite by copying the
    table, which env.py makes safe by turning foreign keys off while migrating)."""
    allowed = "status IN (" + ", ".join(f"'{status}'" for status in statuses) + ")"
    if op.get_context().dialect.name != 'sqlite':
        op.drop_constraint(op.f(CONSTRAINT), 'import_job', type_='check')
        op.create_check_constraint(op.f(CONSTRAINT), 'import_job', allowed)
        return
    with op.batch_alter_table('import_job', recreate='always') as batch:
        batch.drop_constraint(op.f(CONSTRAINT), type_='check')
        batch.create_check_constraint(op.f(CONSTRAINT), allowed)


def upgrade():
    set_statuses('analysing', *STATUSES)


def downgrade():
    # The older code has no worker to check these files: they fail, and can be discarded.
    op.execute(
        "UPDATE import_job SET status = 'failed', error = 'internal',"
        " finished_at = CURRENT_TIMESTAMP WHERE status = 'analysing'"
    )
    set_statuses(*STATUSES)
