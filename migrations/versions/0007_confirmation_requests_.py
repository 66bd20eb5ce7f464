"""Confirmation requests: each subscribe request keeps what it asked for and its own nonce

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    request = op.create_table('confirmation_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('list_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('mailed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], name=op.f('fk_confirmation_request_subscriber_id_subscriber'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confirmation_request')),
    sa.UniqueConstraint('nonce', name=op.f('uq_confirmation_request_nonce'))
    )
    with op.batch_alter_table('confirmation_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confirmation_request_subscriber_id'), ['subscriber_id'], unique=False)

    # Links already mailed keep working: each open nonce becomes a request for what the
    # subscriber holds now.
    subscriber = sa.table('subscriber', sa.column('id', sa.Integer()),
                          sa.column('confirm_nonce', sa.String()), sa.column('name', sa.String()),
                          sa.column('language', sa.String()),
                          sa.column('confirmation_sent_at', sa.DateTime()),
                          sa.column('created_at', sa.DateTime()))
    subscription = sa.table('subscription', sa.column('subscriber_id', sa.Integer()),
                            sa.column('list_id', sa.Integer()))
    connection = op.get_bind()
    open_nonces = connection.execute(
        sa.select(subscriber.c.id, subscriber.c.confirm_nonce, subscriber.c.name,
                  subscriber.c.language,
                  sa.func.coalesce(subscriber.c.confirmation_sent_at, subscriber.c.created_at,
                                   type_=sa.DateTime()))
        .where(subscriber.c.confirm_nonce.is_not(None))
    ).all()
    rows = []
    for subscriber_id, nonce, name, language, created_at in open_nonces:
        list_ids = connection.execute(
            sa.select(subscription.c.list_id)
            .where(subscription.c.subscriber_id == subscriber_id)
            .order_by(subscription.c.list_id)
        ).scalars().all()
        rows.append({"subscriber_id": subscriber_id, "nonce": nonce, "name": name,
                     "language": language, "list_ids": list(list_ids), "created_at": created_at,
                     "mailed_at": created_at})
    if rows:
        op.bulk_insert(request, rows)

    # In place (SQLite 3.35+ drops a column natively): recreating the table would make
    # SQLite, with foreign keys on, cascade the drop of the old table into every child row.
    with op.batch_alter_table('subscriber', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('confirm_nonce')


def downgrade():
    with op.batch_alter_table('subscriber', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('confirm_nonce', sa.String(length=32), nullable=True))
    # The newest open request's link keeps working; older ones did not exist before.
    op.execute(
        "UPDATE subscriber SET confirm_nonce = (SELECT r.nonce FROM confirmation_request r"
        " WHERE r.subscriber_id = subscriber.id ORDER BY r.id DESC LIMIT 1)"
    )
    with op.batch_alter_table('confirmation_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_confirmation_request_subscriber_id'))

    op.drop_table('confirmation_request')
