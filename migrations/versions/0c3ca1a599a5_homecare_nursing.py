"""互联网+护理 (home nursing): the hospitals' service catalogues, nurses' qualifications, orders and dispatcher alerts

Revision ID: 0c3ca1a599a5
Revises: c4d8e2f1a6b9
Create Date: 2026-11-29 22:14:25.504276

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0c3ca1a599a5'
down_revision = 'c4d8e2f1a6b9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('homecare_services',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('service_fee_fen', sa.Integer(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('eligibility_json', sa.Text(), nullable=False),
    sa.Column('travel_bands_json', sa.Text(), nullable=False),
    sa.Column('consumables_json', sa.Text(), nullable=False),
    sa.Column('areas', sa.String(length=2000), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_homecare_services_hospital_id_hospitals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_homecare_services')),
    sa.UniqueConstraint('hospital_id', 'code', name=op.f('uq_homecare_services_hospital_id'))
    )
    with op.batch_alter_table('homecare_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_homecare_services_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('homecare_orders',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=False),
    sa.Column('service_id', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('service_fee_fen', sa.Integer(), nullable=False),
    sa.Column('distance_band', sa.String(length=16), nullable=True),
    sa.Column('travel_fee_fen', sa.Integer(), nullable=True),
    sa.Column('address_enc', sa.Text(), nullable=False),
    sa.Column('area_code', sa.String(length=6), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('window_end', sa.DateTime(), nullable=False),
    sa.Column('condition', sa.String(length=500), nullable=False),
    sa.Column('mobility', sa.String(length=12), nullable=True),
    sa.Column('contact_phone_enc', sa.String(length=200), nullable=False),
    sa.Column('shared_kind', sa.String(length=10), nullable=True),
    sa.Column('shared_id', sa.String(length=32), nullable=True),
    sa.Column('share_consent', sa.Boolean(), nullable=False),
    sa.Column('review_due_at', sa.DateTime(), nullable=False),
    sa.Column('dispatcher_id', sa.String(length=32), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('decline_reason', sa.String(length=200), nullable=True),
    sa.Column('nurse_id', sa.String(length=32), nullable=True),
    sa.Column('nurse_accepted_at', sa.DateTime(), nullable=True),
    sa.Column('departed_at', sa.DateTime(), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('check_in_lat', sa.Float(), nullable=True),
    sa.Column('check_in_lng', sa.Float(), nullable=True),
    sa.Column('visit_notes', sa.Text(), nullable=True),
    sa.Column('consumables_json', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(), nullable=True),
    sa.Column('lapsed_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('cancel_fee_fen', sa.Integer(), nullable=True),
    sa.Column('bill_id', sa.String(length=32), nullable=True),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('rating_score', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('rated_at', sa.DateTime(), nullable=True),
    sa.Column('complaint', sa.String(length=1000), nullable=True),
    sa.Column('complained_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_homecare_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_homecare_orders_bill_id_bills')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_homecare_orders_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['nurse_id'], ['staff.id'], name=op.f('fk_homecare_orders_nurse_id_staff')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_homecare_orders_patient_id_patients')),
    sa.ForeignKeyConstraint(['service_id'], ['homecare_services.id'], name=op.f('fk_homecare_orders_service_id_homecare_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_homecare_orders')),
    sa.UniqueConstraint('bill_id', name=op.f('uq_homecare_orders_bill_id'))
    )
    with op.batch_alter_table('homecare_orders', schema=None) as batch_op:
        batch_op.create_index('ix_homecare_orders_account', ['account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_homecare_orders_hospital', ['hospital_id', 'created_at'], unique=False)
        batch_op.create_index('ix_homecare_orders_nurse', ['nurse_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_homecare_orders_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_homecare_orders_status', ['status', 'review_due_at'], unique=False)

    op.create_table('homecare_qualifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('staff_id', sa.String(length=32), nullable=False),
    sa.Column('service_id', sa.String(length=32), nullable=False),
    sa.Column('granted_by', sa.String(length=32), nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['homecare_services.id'], name=op.f('fk_homecare_qualifications_service_id_homecare_services')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_homecare_qualifications_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_homecare_qualifications')),
    sa.UniqueConstraint('staff_id', 'service_id', name=op.f('uq_homecare_qualifications_staff_id'))
    )
    with op.batch_alter_table('homecare_qualifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_homecare_qualifications_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_homecare_qualifications_staff_id'), ['staff_id'], unique=False)

    op.create_table('homecare_alerts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_homecare_alerts_hospital_id_hospitals')),
    sa.ForeignKeyConstraint(['order_id'], ['homecare_orders.id'], name=op.f('fk_homecare_alerts_order_id_homecare_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_homecare_alerts')),
    sa.UniqueConstraint('order_id', 'kind', name=op.f('uq_homecare_alerts_order_id'))
    )
    with op.batch_alter_table('homecare_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_homecare_alerts_hospital', ['hospital_id', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('homecare_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_homecare_alerts_hospital')

    op.drop_table('homecare_alerts')
    with op.batch_alter_table('homecare_qualifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_homecare_qualifications_staff_id'))
        batch_op.drop_index(batch_op.f('ix_homecare_qualifications_service_id'))

    op.drop_table('homecare_qualifications')
    with op.batch_alter_table('homecare_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_homecare_orders_status')
        batch_op.drop_index(batch_op.f('ix_homecare_orders_patient_id'))
        batch_op.drop_index('ix_homecare_orders_nurse')
        batch_op.drop_index('ix_homecare_orders_hospital')
        batch_op.drop_index('ix_homecare_orders_account')

    op.drop_table('homecare_orders')
    with op.batch_alter_table('homecare_services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_homecare_services_hospital_id'))

    op.drop_table('homecare_services')
