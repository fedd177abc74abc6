"""Daily upkeep of contracts: a renewal reminder once in the last 30 days, `expired` after the last day.

Each happens once per contract however often (or concurrently) the job runs: both are conditional updates, and only
the run whose update changed the row tells anyone.
"""
from datetime import timedelta

import sqlalchemy as sa

from ..common.clock import now, to_local
from ..extensions import db
from ..records.models import FamilyDoctorContract
from .contracts import RENEWAL_DAYS, changed, end_plans
from .followups import remind
from .notices import tell_family

BATCH = 200


def expire(instant=None):
    """Contracts past their last day expire (their follow-ups stop, the family is told); returns how many."""
    instant = instant or now()
    today = to_local(instant).date()
    due = db.session.scalars(sa.select(FamilyDoctorContract.id).where(
        FamilyDoctorContract.status == "active", FamilyDoctorContract.ends_on < today)
        .order_by(FamilyDoctorContract.ends_on).limit(BATCH)).all()
    expired = 0
    for contract_id in due:
        if db.session.execute(sa.update(FamilyDoctorContract).where(
                FamilyDoctorContract.id == contract_id, FamilyDoctorContract.status == "active",
                FamilyDoctorContract.ends_on < today)
                .values(status="expired", ended_at=instant, updated_at=instant, end_reason="签约期满未续约")
                .execution_options(synchronize_session=False)).rowcount:
            contract = db.session.get(FamilyDoctorContract, contract_id, populate_existing=True)
            end_plans(contract, instant)
            tell_family(contract, "family.expired")
            changed(contract, "active", instant)
            expired += 1
        db.session.commit()
    return expired


def remind_renewals(instant=None):
    """Once per contract, within RENEWAL_DAYS of its end, tell the family it may renew; returns how many."""
    instant = instant or now()
    today = to_local(instant).date()
    due = db.session.scalars(sa.select(FamilyDoctorContract.id).where(
        FamilyDoctorContract.status == "active", FamilyDoctorContract.renewal_reminded_at.is_(None),
        FamilyDoctorContract.team_id.is_not(None), FamilyDoctorContract.patient_id.is_not(None),
        FamilyDoctorContract.ends_on <= today + timedelta(days=RENEWAL_DAYS))
        .order_by(FamilyDoctorContract.ends_on).limit(BATCH)).all()
    told = 0
    for contract_id in due:
        if db.session.execute(sa.update(FamilyDoctorContract).where(
                FamilyDoctorContract.id == contract_id, FamilyDoctorContract.renewal_reminded_at.is_(None))
                .values(renewal_reminded_at=instant).execution_options(synchronize_session=False)).rowcount:
            contract = db.session.get(FamilyDoctorContract, contract_id, populate_existing=True)
            tell_family(contract, "family.renewal_due")
            told += 1
        db.session.commit()
    return told


def run(instant=None):
    """The daily upkeep, then the follow-up reminders (the worker's periodic job)."""
    return {"expired": expire(instant), "renewal_reminders": remind_renewals(instant),
            "followup_reminders": remind(instant)}
