"""Worker jobs: settle yesterday's credit at the end of the day, remind about overdue settlements (D+1, D+3,
D+7), and suspend credit city-wide past the grace period. Each row is handled once under its lock."""
import logging
from datetime import time, timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts.notices import tell_accounts
from ..common.clock import local_dt, now, to_local
from ..common.locking import lock_row
from ..errors import ApiError
from ..extensions import db
from .models import UNPAID, CreditBill, CreditBlock, CreditSettlement
from .settlement import open_settlement

log = logging.getLogger(__name__)
REMINDER_DAYS = (1, 3, 7)


def close_days(instant=None):
    """Settle every patient's open credit bills of days already over (China time); returns counts."""
    instant = instant or now()
    midnight = local_dt(to_local(instant).date(), time(0))
    pairs = db.session.execute(sa.select(CreditBill.patient_id, CreditBill.hospital_id).where(
        CreditBill.status == "open", CreditBill.created_at < midnight).distinct()).all()
    db.session.commit()
    counts = {"settled": 0, "refused": 0}
    for patient_id, hospital_id in pairs:
        try:
            if open_settlement(patient_id, hospital_id, instant, "day_end", before=midnight) is not None:
                counts["settled"] += 1
            db.session.commit()
        except ApiError as exc:  # e.g. pre-settlement impossible at this hospital now: tried again next run
            db.session.rollback()
            log.warning("end-of-day settlement for %s at %s refused: %s", patient_id, hospital_id, exc.code)
            counts["refused"] += 1
    return counts


def remind_and_suspend(instant=None):
    """Overdue settlements: credit.reminder at D+1, D+3, D+7 after they fell due (once each), and past
    CREDIT_GRACE_DAYS a city-wide block (credit.suspended), lifted when the settlement is paid."""
    instant = instant or now()
    grace = timedelta(days=current_app.config["CREDIT_GRACE_DAYS"])
    ids = db.session.scalars(sa.select(CreditSettlement.id).where(
        CreditSettlement.status.in_(UNPAID), CreditSettlement.due_at <= instant - timedelta(days=1))).all()
    db.session.commit()
    counts = {"reminded": 0, "suspended": 0}
    for settlement_id in ids:
        lock_row(CreditSettlement, settlement_id)
        settlement = db.session.get(CreditSettlement, settlement_id, populate_existing=True)
        if settlement.status in UNPAID:
            late = instant - settlement.due_at
            day = max((d for d in REMINDER_DAYS if late >= timedelta(days=d)), default=0)
            if day > settlement.reminded_day:
                settlement.reminded_day = day
                tell_accounts(settlement.patient_id, "credit.reminder", {
                    "settlement_id": settlement.id, "bill_id": settlement.bill_id, "day": day,
                    "hospital_id": settlement.hospital_id, "self_pay_fen": settlement.self_pay_fen,
                    "due_at": settlement.due_at.isoformat()})
                counts["reminded"] += 1
            if late >= grace and _suspend(settlement, instant):
                counts["suspended"] += 1
        db.session.commit()
    return counts


def _suspend(settlement, instant):
    """One city-wide block per overdue settlement (unique on settlement_id); False if it exists."""
    if db.session.scalar(sa.select(CreditBlock.id).filter_by(settlement_id=settlement.id)) is not None:
        return False
    db.session.add(CreditBlock(patient_id=settlement.patient_id, hospital_id=None, reason="overdue",
                               settlement_id=settlement.id, created_at=instant, created_by="system",
                               note="结算逾期未支付"))
    tell_accounts(settlement.patient_id, "credit.suspended", {
        "settlement_id": settlement.id, "bill_id": settlement.bill_id, "hospital_id": settlement.hospital_id,
        "self_pay_fen": settlement.self_pay_fen, "due_at": settlement.due_at.isoformat(),
        "suspended_at": instant.isoformat()})
    db.session.flush()
    return True
