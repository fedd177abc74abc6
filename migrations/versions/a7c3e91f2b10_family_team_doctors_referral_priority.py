"""号源预留 family_team: family_team_members.doctor_id links a team member to the doctor row whose schedules keep
tickets for the team's signed residents; referrals.priority ("signed": 签约居民 priority on a referral's ticket);
referral_events.note and a nullable staff_id (a history line the patient's side caused: 预约已取消)

Revision ID: a7c3e91f2b10
Revises: fade0bb55f5b
Create Date: 2026-11-30 05:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e91f2b10'
down_revision = 'fade0bb55f5b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.String(length=8), nullable=True))
    with op.batch_alter_table('referral_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.String(length=40), nullable=True))
        batch_op.alter_column('staff_id', existing_type=sa.String(length=32), nullable=True)
    with op.batch_alter_table('family_team_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('doctor_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_family_team_members_doctor_id'), ['doctor_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_family_team_members_doctor_id_doctors'), 'doctors',
                                    ['doctor_id'], ['id'])


def downgrade():
    with op.batch_alter_table('family_team_members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_family_team_members_doctor_id_doctors'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_family_team_members_doctor_id'))
        batch_op.drop_column('doctor_id')
    op.execute("DELETE FROM referral_events WHERE staff_id IS NULL")  # lines no staff member made cannot stay
    with op.batch_alter_table('referral_events', schema=None) as batch_op:
        batch_op.alter_column('staff_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column('note')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('priority')
