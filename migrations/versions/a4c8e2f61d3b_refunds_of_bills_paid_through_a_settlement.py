"""refunds of bills paid through a settlement; who set a credit policy

Revision ID: a4c8e2f61d3b
Revises: d7a3c5e9b2f4
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4c8e2f61d3b'
down_revision = 'd7a3c5e9b2f4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        # The bill refunded when it is not the payment's own (a bill paid through a 先诊疗后付费 settlement).
        batch_op.add_column(sa.Column('bill_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_refunds_bill_id'), ['bill_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_refunds_bill_id_bills'), 'bills', ['bill_id'], ['id'])
    with op.batch_alter_table('credit_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_by', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('credit_policies', schema=None) as batch_op:
        batch_op.drop_column('updated_by')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_refunds_bill_id_bills'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_refunds_bill_id'))
        batch_op.drop_column('bill_id')
