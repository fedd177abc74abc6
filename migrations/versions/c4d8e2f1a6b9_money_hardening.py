"""Hardening: refund numbers per hospital, payment alerts, the insured year, each payment's deductible, and the
hold of sensitive stand-alone observations, the insurance cards the city holds, names on registration fees

Revision ID: c4d8e2f1a6b9
Revises: c3d5e7f9a1b2
Create Date: 2026-11-29 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d8e2f1a6b9'
down_revision = 'c3d5e7f9a1b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hospital_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('source_refund_no', sa.String(length=64), nullable=True))
    # Existing refunds keep their number as the caller's own, under the hospital of their bill.
    op.execute("UPDATE refunds SET source_refund_no = out_refund_no, hospital_id = (SELECT bills.hospital_id "
               "FROM payments JOIN bills ON bills.id = payments.bill_id WHERE payments.id = refunds.payment_id)")
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.alter_column('hospital_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_foreign_key('fk_refunds_hospital_id_hospitals', 'hospitals', ['hospital_id'], ['id'])
        batch_op.create_unique_constraint('uq_refunds_hospital_id', ['hospital_id', 'source_refund_no'])
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deductible_fen', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('insured_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('year', sa.Integer(), nullable=True))
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sensitive', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('received_at', sa.DateTime(), nullable=True))
    # A registration fee now carries its department and doctor names (billing no longer reads appointments).
    op.execute("UPDATE bills SET department = (SELECT departments.name FROM appointments JOIN departments "
               "ON departments.id = appointments.department_id WHERE appointments.id = bills.appointment_id) "
               "WHERE kind = 'registration' AND department IS NULL")
    op.execute("UPDATE bills SET doctor = (SELECT doctors.name FROM appointments JOIN schedules "
               "ON schedules.id = appointments.schedule_id JOIN doctors ON doctors.id = schedules.doctor_id "
               "WHERE appointments.id = bills.appointment_id) WHERE kind = 'registration' AND doctor IS NULL")
    op.create_table(
        'insurance_cards',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('card_index', sa.String(length=64), nullable=False),
        sa.Column('person_index', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('hospital_id', sa.String(length=32), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_insurance_cards'),
        sa.UniqueConstraint('card_index', name='uq_insurance_cards_card_index'),
    )
    with op.batch_alter_table('insurance_cards', schema=None) as batch_op:
        batch_op.create_index('ix_insurance_cards_person_index', ['person_index'], unique=False)
    op.create_table(
        'payment_alerts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('out_trade_no', sa.String(length=32), nullable=False),
        sa.Column('transaction_id', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_payment_alerts'),
        sa.UniqueConstraint('kind', 'out_trade_no', 'transaction_id', name='uq_payment_alerts_kind'),
    )


def downgrade():
    op.drop_table('payment_alerts')
    op.drop_table('insurance_cards')
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_column('received_at')
        batch_op.drop_column('sensitive')
    with op.batch_alter_table('insured_accounts', schema=None) as batch_op:
        batch_op.drop_column('year')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('deductible_fen')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint('uq_refunds_hospital_id', type_='unique')
        batch_op.drop_constraint('fk_refunds_hospital_id_hospitals', type_='foreignkey')
        batch_op.drop_column('source_refund_no')
        batch_op.drop_column('hospital_id')
