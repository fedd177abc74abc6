"""identity verification and proxies: link states, phones on file, one-time codes, sandbox SMS

Revision ID: 9b1f3c2d7e10
Revises: 56768476a180
Create Date: 2026-11-29 18:40:00

Existing links become `claimed` (they keep booking; clinical data now needs verification). The phone a
resident typed was stored on the patient; it moves to the link that typed it (the earliest), because only
phones hospitals send count for verification.
"""
import sqlalchemy as sa
from alembic import op

revision = '9b1f3c2d7e10'
down_revision = '56768476a180'
branch_labels = None
depends_on = None

UtcDateTime = sa.DateTime  # patient_api.common.clock.UtcDateTime stores naive UTC in a plain DATETIME


def _foreign_keys(on):
    """SQLite rebuilds a table to drop a column; `patients` is referenced, so the check waits (set before any DML)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def upgrade():
    _foreign_keys(False)
    op.create_table(
        'person_phones',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('person_index', sa.String(length=64), nullable=False),
        sa.Column('phone_enc', sa.String(length=200), nullable=False),
        sa.Column('phone_index', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('hospital_id', sa.String(length=32), nullable=True),
        sa.Column('first_seen_at', UtcDateTime(), nullable=False),
        sa.Column('last_seen_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('person_index', 'phone_index'))
    with op.batch_alter_table('person_phones') as batch_op:
        batch_op.create_index('ix_person_phones_person_index', ['person_index'])
        batch_op.create_index('ix_person_phones_phone_index', ['phone_index'])

    op.create_table(
        'binding_codes',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('person_index', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('issued_by_type', sa.String(length=10), nullable=False),
        sa.Column('issued_by_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=False),
        sa.Column('used_at', UtcDateTime(), nullable=True),
        sa.Column('used_by_link', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'))
    with op.batch_alter_table('binding_codes') as batch_op:
        batch_op.create_index('ix_binding_codes_person_index', ['person_index'])

    op.create_table(
        'sms_sandbox',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('phone_index', sa.String(length=64), nullable=False),
        sa.Column('text', sa.String(length=500), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('sms_sandbox') as batch_op:
        batch_op.create_index('ix_sms_sandbox_phone_index', ['phone_index'])

    with op.batch_alter_table('patient_links') as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='claimed', nullable=False))
        batch_op.add_column(sa.Column('claimed_name', sa.String(length=50), server_default='', nullable=False))
        batch_op.add_column(sa.Column('phone_enc', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('verified_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('verified_method', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('status_changed_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('patients') as batch_op:
        batch_op.add_column(sa.Column('name_source', sa.String(length=10), server_default='claim', nullable=False))

    op.execute("UPDATE patient_links SET claimed_name = (SELECT p.name FROM patients p "
               "WHERE p.id = patient_links.patient_id)")
    op.execute("UPDATE patient_links SET phone_enc = (SELECT p.phone_enc FROM patients p "
               "WHERE p.id = patient_links.patient_id) WHERE id IN (SELECT l.id FROM patient_links l "
               "WHERE l.created_at = (SELECT min(m.created_at) FROM patient_links m WHERE m.patient_id = l.patient_id))")
    # Patients nobody typed in came from a kiosk's ID-card read; those in a stay were matched by a hospital.
    op.execute("UPDATE patients SET name_source = 'card' WHERE id NOT IN (SELECT patient_id FROM patient_links)")
    op.execute("UPDATE patients SET name_source = 'hospital' WHERE name_source = 'claim' "
               "AND id IN (SELECT patient_id FROM admissions)")
    with op.batch_alter_table('patients') as batch_op:
        batch_op.drop_column('phone_enc')

    op.create_table(
        'verification_codes',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('link_id', sa.String(length=32), nullable=False),
        sa.Column('account_id', sa.String(length=32), nullable=False),
        sa.Column('person_index', sa.String(length=64), nullable=False),
        sa.Column('phone_index', sa.String(length=64), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=False),
        sa.Column('used_at', UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['link_id'], ['patient_links.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('verification_codes') as batch_op:
        batch_op.create_index('ix_verification_codes_link', ['link_id', 'created_at'])
        batch_op.create_index('ix_verification_codes_account_id', ['account_id'])
        batch_op.create_index('ix_verification_codes_person_index', ['person_index'])
        batch_op.create_index('ix_verification_codes_phone_index', ['phone_index'])
        batch_op.create_index('ix_verification_codes_created_at', ['created_at'])
    _foreign_keys(True)


def downgrade():
    _foreign_keys(False)
    op.drop_table('verification_codes')
    with op.batch_alter_table('patients') as batch_op:
        batch_op.add_column(sa.Column('phone_enc', sa.String(length=200), nullable=True))
        batch_op.drop_column('name_source')
    with op.batch_alter_table('patient_links') as batch_op:
        for column in ('failed_attempts', 'status_changed_at', 'verified_method', 'verified_at', 'phone_enc',
                       'claimed_name', 'status'):
            batch_op.drop_column(column)
    op.drop_table('sms_sandbox')
    op.drop_table('binding_codes')
    op.drop_table('person_phones')
    _foreign_keys(True)
