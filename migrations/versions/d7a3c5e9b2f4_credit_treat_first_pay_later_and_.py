"""先诊疗后付费 and 无感支付: hospital credit policies, enrolments, bills on credit, settlements, 委托代扣 contracts,
suspensions

Revision ID: d7a3c5e9b2f4
Revises: 0c3ca1a599a5
Create Date: 2026-11-29 22:19:19.484090

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7a3c5e9b2f4'
down_revision = '0c3ca1a599a5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('credit_blocks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('settlement_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_credit_blocks_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_credit_blocks_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_blocks')),
    sa.UniqueConstraint('settlement_id', name=op.f('uq_credit_blocks_settlement_id'))
    )
    with op.batch_alter_table('credit_blocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_blocks_patient_id'), ['patient_id'], unique=False)

    op.create_table('credit_contracts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('out_contract_code', sa.String(length=32), nullable=False),
    sa.Column('contract_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('signed_at', sa.DateTime(), nullable=True),
    sa.Column('terminated_at', sa.DateTime(), nullable=True),
    sa.Column('termination_mode', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_credit_contracts_account_id_accounts')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_credit_contracts_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_contracts')),
    sa.UniqueConstraint('contract_id', name=op.f('uq_credit_contracts_contract_id')),
    sa.UniqueConstraint('out_contract_code', name=op.f('uq_credit_contracts_out_contract_code'))
    )
    with op.batch_alter_table('credit_contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_contracts_patient_id'), ['patient_id'], unique=False)

    op.create_table('credit_enrolments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=True),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('limit_fen', sa.BigInteger(), nullable=False),
    sa.Column('limit_basis', sa.String(length=20), nullable=False),
    sa.Column('consent_version', sa.String(length=20), nullable=False),
    sa.Column('consented_at', sa.DateTime(), nullable=False),
    sa.Column('consented_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['consented_by'], ['accounts.id'], name=op.f('fk_credit_enrolments_consented_by_accounts')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_credit_enrolments_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_credit_enrolments_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_enrolments')),
    sa.UniqueConstraint('patient_id', 'scope', name=op.f('uq_credit_enrolments_patient_id'))
    )
    with op.batch_alter_table('credit_enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_enrolments_patient_id'), ['patient_id'], unique=False)

    op.create_table('credit_policies',
    sa.Column('hospital_id', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('base_limit_fen', sa.BigInteger(), nullable=False),
    sa.Column('family_doctor_limit_fen', sa.BigInteger(), nullable=False),
    sa.Column('insured_limit_fen', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_credit_policies_hospital_id_hospitals')),
    sa.PrimaryKeyConstraint('hospital_id', name=op.f('pk_credit_policies'))
    )
    op.create_table('credit_bills',
    sa.Column('bill_id', sa.String(length=32), nullable=False),
    sa.Column('enrolment_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('settlement_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_credit_bills_bill_id_bills')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['credit_enrolments.id'], name=op.f('fk_credit_bills_enrolment_id_credit_enrolments')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_credit_bills_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_credit_bills_patient_id_patients')),
    sa.PrimaryKeyConstraint('bill_id', name=op.f('pk_credit_bills'))
    )
    with op.batch_alter_table('credit_bills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_bills_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index('ix_credit_bills_open', ['patient_id', 'hospital_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_bills_settlement_id'), ['settlement_id'], unique=False)

    op.create_table('credit_settlements',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=False),
    sa.Column('bill_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('trigger', sa.String(length=10), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('bill_count', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('insurance_fund_fen', sa.BigInteger(), nullable=False),
    sa.Column('personal_account_fen', sa.BigInteger(), nullable=False),
    sa.Column('self_pay_fen', sa.BigInteger(), nullable=False),
    sa.Column('deductible_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('settled_by', sa.String(length=32), nullable=True),
    sa.Column('deduction_attempts', sa.Integer(), nullable=False),
    sa.Column('deduction_payment_id', sa.String(length=32), nullable=True),
    sa.Column('next_deduction_at', sa.DateTime(), nullable=True),
    sa.Column('deduction_failed', sa.Boolean(), nullable=False),
    sa.Column('reminded_day', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_credit_settlements_bill_id_bills')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_credit_settlements_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_credit_settlements_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_settlements')),
    sa.UniqueConstraint('bill_id', name=op.f('uq_credit_settlements_bill_id'))
    )
    with op.batch_alter_table('credit_settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_settlements_next_deduction_at'), ['next_deduction_at'], unique=False)
        batch_op.create_index('ix_credit_settlements_patient', ['patient_id', 'hospital_id', 'status'], unique=False)



def downgrade():
    with op.batch_alter_table('credit_settlements', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_settlements_patient')
        batch_op.drop_index(batch_op.f('ix_credit_settlements_next_deduction_at'))

    op.drop_table('credit_settlements')
    with op.batch_alter_table('credit_bills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_bills_settlement_id'))
        batch_op.drop_index('ix_credit_bills_open')
        batch_op.drop_index(batch_op.f('ix_credit_bills_enrolment_id'))

    op.drop_table('credit_bills')
    op.drop_table('credit_policies')
    with op.batch_alter_table('credit_enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_enrolments_patient_id'))

    op.drop_table('credit_enrolments')
    with op.batch_alter_table('credit_contracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_contracts_patient_id'))

    op.drop_table('credit_contracts')
    with op.batch_alter_table('credit_blocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_blocks_patient_id'))

    op.drop_table('credit_blocks')
