"""消息 inbox: when an account read each of its WeChat messages

Revision ID: b7e4a1c9d352
Revises: 9b1f3c2d7e10
Create Date: 2026-11-30 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e4a1c9d352'
down_revision = '9b1f3c2d7e10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'message_reads',
        sa.Column('message_id', sa.String(length=32), nullable=False),
        sa.Column('account_id', sa.String(length=32), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['message_id'], ['outbox.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('message_id'),
    )
    with op.batch_alter_table('message_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_reads_account_id'), ['account_id'], unique=False)
    # The inbox lists an account's messages newest first.
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_destination', ['channel', 'destination', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_destination')
    with op.batch_alter_table('message_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_reads_account_id'))
    op.drop_table('message_reads')
