"""Media library: images stored in the database, with alt text per language

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('media_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=100), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('alt_text', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_media_file_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_file'))
    )
    with op.batch_alter_table('media_file') as batch:
        batch.create_index(batch.f('ix_media_file_created_at'), ['created_at'], unique=False)
        batch.create_index(batch.f('ix_media_file_sha256'), ['sha256'], unique=False)


def downgrade():
    with op.batch_alter_table('media_file') as batch:
        batch.drop_index(batch.f('ix_media_file_sha256'))
        batch.drop_index(batch.f('ix_media_file_created_at'))
    op.drop_table('media_file')
