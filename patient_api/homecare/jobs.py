"""Periodic jobs: requests nobody reviewed in time lapse; visits without a check-out alert the dispatchers.

Each fires exactly once per order however often (or concurrently) the job runs: a lapse is a conditional status
change, an overdue visit an alert row unique per (order, kind).
"""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..common.clock import now
from ..extensions import db
from .models import HomecareAlert, HomecareOrder
from .notices import alert, tell_family

BATCH = 200


def lapse_requests(instant=None):
    """Requests past their review deadline lapse; the family is told and the dispatchers alerted; returns how many."""
    instant = instant or now()
    due = db.session.scalars(sa.select(HomecareOrder.id).where(
        HomecareOrder.status == "requested", HomecareOrder.review_due_at < instant)
        .order_by(HomecareOrder.review_due_at).limit(BATCH)).all()
    lapsed = 0
    for order_id in due:
        # Only the run that changes the status tells anyone: a dispatcher deciding meanwhile, or a second run, wins.
        changed = db.session.execute(sa.update(HomecareOrder).where(
            HomecareOrder.id == order_id, HomecareOrder.status == "requested")
            .values(status="lapsed", lapsed_at=instant).execution_options(synchronize_session=False)).rowcount
        if changed:
            order = db.session.get(HomecareOrder, order_id, populate_existing=True)
            tell_family(order, "homecare.lapsed")
            alert(order, "review_lapsed", instant)
            lapsed += 1
        db.session.commit()
    return lapsed


def alert_overdue_visits(instant=None):
    """Visits checked in more than HOMECARE_OVERDUE_HOURS ago and not checked out: alert once; returns how many."""
    instant = instant or now()
    cutoff = instant - timedelta(hours=current_app.config["HOMECARE_OVERDUE_HOURS"])
    alerted = sa.select(HomecareAlert.id).where(HomecareAlert.order_id == HomecareOrder.id,
                                                HomecareAlert.kind == "visit_overdue")
    due = db.session.scalars(sa.select(HomecareOrder).where(
        HomecareOrder.status == "in_visit", HomecareOrder.checked_in_at < cutoff, ~alerted.exists())
        .order_by(HomecareOrder.checked_in_at).limit(BATCH)).all()
    raised = 0
    for order in due:
        if alert(order, "visit_overdue", instant, checked_in_at=order.checked_in_at.isoformat()) is not None:
            raised += 1
        db.session.commit()
    return raised
