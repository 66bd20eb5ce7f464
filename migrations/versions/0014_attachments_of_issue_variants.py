"""Attachments: files sent with one language variant, or offered in it as a link

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('variant_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('link_only', sa.Boolean(), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('size > 0', name=op.f('ck_attachment_size_positive')),
        sa.ForeignKeyConstraint(
            ['variant_id'],
            ['issue_variant.id'],
            name=op.f('fk_attachment_variant_id_issue_variant'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment')),
        sa.UniqueConstraint('token', name=op.f('uq_attachment_token')),
    )
    with op.batch_alter_table('attachment') as batch:
        batch.create_index(batch.f('ix_attachment_variant_id'), ['variant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('attachment') as batch:
        batch.drop_index(batch.f('ix_attachment_variant_id'))
    op.drop_table('attachment')
