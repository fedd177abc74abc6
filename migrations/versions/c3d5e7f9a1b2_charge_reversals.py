"""HIS charge reversals (冲销/退费): a negative line names the line it takes back

Revision ID: c3d5e7f9a1b2
Revises: b7e4a1c9d352
Create Date: 2026-11-30 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d5e7f9a1b2'
down_revision = 'b7e4a1c9d352'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inpatient_charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reverses_source_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('inpatient_charges', schema=None) as batch_op:
        batch_op.drop_column('reverses_source_id')
