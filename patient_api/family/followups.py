"""Follow-up plans a team sets per contract (e.g. blood pressure every 30 days), and their periods.

A plan's periods run back to back, in whole days, from the day it was set. In each period the job reminds the
family once (a period row's `reminded_at`, set by a conditional update, so two runs or two workers send one
reminder), unless a reading of the plan's kind measured in that period already marked it done: records publishes
`vital.recorded` for every upload, and the subscriber below marks the period. A plan is overdue when the last period
ended without a reading and none has come in the current one yet.
"""
from datetime import time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.notices import tell_accounts
from ..common import audit, events
from ..common.clock import local_dt, now, to_local
from ..errors import Conflict
from ..extensions import db
from ..records import vitals
from ..records.models import FamilyDoctorContract, Vital
from .models import FollowUpPeriod, FollowUpPlan

BATCH = 500


def kind_name(kind):
    """血压, 血糖 … for a vitals kind."""
    return vitals.UNITS[kind][3]


def active_plans(contract_id):
    """The contract's plans in force, by kind."""
    return db.session.scalars(sa.select(FollowUpPlan).where(
        FollowUpPlan.contract_id == contract_id, FollowUpPlan.active.is_(True)).order_by(FollowUpPlan.kind)).all()


def set_plans(staff, contract, plans, instant=None):
    """Replace the contract's plans. A kind kept at the same interval keeps its periods (only its note changes); a
    new kind or interval starts its periods now. 409 for a contract not in force or a person not registered here."""
    instant = instant or now()
    if contract.status != "active":
        raise Conflict("只能为生效中的签约设置随访计划", code="invalid_contract_state")
    if contract.patient_id is None:
        raise Conflict("该居民尚未在平台添加就诊人，暂不能设置随访提醒", code="patient_not_registered")
    wanted = {plan["kind"]: plan for plan in plans}
    kept = set()
    for plan in active_plans(contract.id):
        spec = wanted.get(plan.kind)
        if spec is not None and spec["interval_days"] == plan.interval_days:
            plan.note = spec["note"]
            kept.add(plan.kind)
        else:
            plan.active, plan.ended_at = False, instant
    for kind, spec in wanted.items():
        if kind not in kept:
            db.session.add(FollowUpPlan(contract_id=contract.id, patient_id=contract.patient_id, kind=kind,
                                        interval_days=spec["interval_days"], note=spec["note"],
                                        starts_at=day_start(instant), created_by=staff.id, created_at=instant))
    db.session.flush()
    audit.record("staff", staff.id, "family.followups_set", patient_id=contract.patient_id, resource=contract.id,
                 plans={kind: spec["interval_days"] for kind, spec in wanted.items()})
    return active_plans(contract.id)


def add_plan(contract, patient_id, kind, interval_days, note, created_by, instant=None):
    """Add one plan to a contract in force, keeping its other kinds (a 转诊 follow-up); a plan of the same kind and
    interval stays as it is, one of another interval ends and the new one starts today."""
    instant = instant or now()
    for plan in active_plans(contract.id):
        if plan.kind != kind:
            continue
        if plan.interval_days == interval_days:
            return plan
        plan.active, plan.ended_at = False, instant
    plan = FollowUpPlan(contract_id=contract.id, patient_id=patient_id, kind=kind, interval_days=interval_days,
                        note=note, starts_at=day_start(instant), created_by=created_by, created_at=instant)
    db.session.add(plan)
    db.session.flush()
    return plan


def day_start(instant):
    """Midnight (China time) of the instant's day: periods run in whole days, so a reading taken on the day the plan
    was set (entered to the minute, perhaps a minute before) counts for its first period."""
    return local_dt(to_local(instant).date(), time(0, 0))


def last_day(ends_at):
    """The last day of a period (it ends at midnight, exclusive), in China time."""
    return (to_local(ends_at) - timedelta(seconds=1)).date()


def period(plan, number):
    """The plan's period row `number`, created when missing (two creators at once: one row)."""
    found = db.session.scalars(sa.select(FollowUpPeriod).filter_by(plan_id=plan.id, period_no=number)).first()
    if found is not None:
        return found
    starts_at, ends_at = plan.period_bounds(number)
    try:
        with db.session.begin_nested():
            found = FollowUpPeriod(plan_id=plan.id, period_no=number, starts_at=starts_at, ends_at=ends_at)
            db.session.add(found)
    except IntegrityError:
        found = db.session.scalars(sa.select(FollowUpPeriod).filter_by(plan_id=plan.id, period_no=number)).one()
    return found


@events.subscribe("vital.recorded")
def reading_recorded(vital, instant):
    """An upload of a plan's kind marks the period it was measured in done (the first reading counts)."""
    plans = db.session.scalars(sa.select(FollowUpPlan).join(
        FamilyDoctorContract, FamilyDoctorContract.id == FollowUpPlan.contract_id).where(
        FollowUpPlan.patient_id == vital.patient_id, FollowUpPlan.kind == vital.kind, FollowUpPlan.active.is_(True),
        FamilyDoctorContract.status == "active")).all()
    for plan in plans:
        number = plan.period_of(vital.measured_at)
        if number < 0:
            continue  # measured before the plan was set
        row = period(plan, number)
        if row.done_at is None:
            row.done_at, row.vital_id = instant, vital.id
    db.session.flush()


def remind(instant=None):
    """Remind the family once in each period of each plan in force that has no reading yet; returns how many."""
    instant = instant or now()
    sent, after = 0, ""
    while True:  # in batches by id, so every plan is looked at however many there are
        plans = db.session.scalars(sa.select(FollowUpPlan).join(
            FamilyDoctorContract, FamilyDoctorContract.id == FollowUpPlan.contract_id).where(
            FollowUpPlan.active.is_(True), FamilyDoctorContract.status == "active", FollowUpPlan.starts_at <= instant,
            FollowUpPlan.id > after).order_by(FollowUpPlan.id).limit(BATCH)).all()
        for plan in plans:
            sent += _remind(plan, instant)
            db.session.commit()
        if len(plans) < BATCH:
            return sent
        after = plans[-1].id


def _remind(plan, instant):
    """1 when this run reminded the family about the plan's current period, else 0."""
    row = period(plan, plan.period_of(instant))
    # Only the run that sets reminded_at sends: a second run, another worker or a reading meanwhile wins.
    claimed = db.session.execute(sa.update(FollowUpPeriod).where(
        FollowUpPeriod.id == row.id, FollowUpPeriod.reminded_at.is_(None), FollowUpPeriod.done_at.is_(None))
        .values(reminded_at=instant).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return 0
    tell_accounts(plan.patient_id, "family.followup_due", {
        "family_contract_id": plan.contract_id, "followup_plan_id": plan.id, "vital_kind": plan.kind,
        "vital_name": kind_name(plan.kind), "due_at": row.ends_at.isoformat(),
        "due_on": last_day(row.ends_at).isoformat()})
    return 1


def last_reading(patient_id, kind):
    """When the patient's newest upload of that kind was measured, or None."""
    return db.session.scalar(sa.select(sa.func.max(Vital.measured_at)).where(
        Vital.patient_id == patient_id, Vital.kind == kind))


def status(plan, instant):
    """Where the plan stands now: this period's due time, whether it is done, whether the last one was missed."""
    number = plan.period_of(instant)
    rows = {row.period_no: row for row in db.session.scalars(sa.select(FollowUpPeriod).where(
        FollowUpPeriod.plan_id == plan.id, FollowUpPeriod.period_no.in_((number - 1, number)))).all()}
    starts_at, due_at = plan.period_bounds(number)
    done = rows.get(number) is not None and rows[number].done_at is not None
    missed = number >= 1 and (rows.get(number - 1) is None or rows[number - 1].done_at is None)
    return {"id": plan.id, "kind": plan.kind, "kind_name": kind_name(plan.kind), "interval_days": plan.interval_days,
            "note": plan.note, "starts_at": plan.starts_at, "period_start": starts_at, "due_at": due_at,
            "due_on": last_day(due_at),
            "done": done, "reminded": rows.get(number) is not None and rows[number].reminded_at is not None,
            "overdue": missed and not done, "overdue_since": starts_at if missed and not done else None,
            "last_reading_at": last_reading(plan.patient_id, plan.kind)}
