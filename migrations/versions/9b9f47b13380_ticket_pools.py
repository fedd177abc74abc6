"""号源预留: tickets kept back for a pool (referral, elder) until a release time; appointments remember the pool and
the contact phone of a booking made by staff (代预约)

Revision ID: 9b9f47b13380
Revises: a4c8e2f61d3b
Create Date: 2026-11-30 00:46:40.077805

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b9f47b13380'
down_revision = 'a4c8e2f61d3b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pool', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('contact_phone_enc', sa.String(length=200), nullable=True))

    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reservations', sa.JSON(), nullable=True))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reserved_for', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('release_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('released_from', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_tickets_release', ['release_at'], unique=False,
                              postgresql_where=sa.text('reserved_for IS NOT NULL'),
                              sqlite_where=sa.text('reserved_for IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_release')
        batch_op.drop_column('released_from')
        batch_op.drop_column('release_at')
        batch_op.drop_column('reserved_for')

    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_column('reservations')

    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_column('contact_phone_enc')
        batch_op.drop_column('pool')
