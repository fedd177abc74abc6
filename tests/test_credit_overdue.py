"""Overdue settlements: reminders at D+1, D+3, D+7 (once each), city-wide suspension past the grace period,
lifted by paying; an overdue settlement anywhere stops new credit everywhere."""
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.common.clock import now
from patient_api.common.outbox import OutboxMessage
from patient_api.credit import consent, jobs
from patient_api.credit.models import CreditBlock, CreditSettlement
from patient_api.extensions import db

from .credit import World, check_books, credit_path


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def reminders(app):
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.channel == "wechat_message", OutboxMessage.event.like("credit.%"))
            .order_by(OutboxMessage.created_at)).all()
        return [(row.event, json.loads(row.payload).get("day")) for row in rows
                if row.event in ("credit.reminder", "credit.suspended")]


def unpaid(app, world, headers, patient_id, person, fen=3000):
    """A settlement made and left unpaid; returns its id."""
    world.bill(person, fen)
    return world.settle(headers, patient_id)["settlement"]["id"]


def run(app, at):
    with app.app_context():
        return jobs.remind_and_suspend(at)


def test_reminders_at_d1_d3_d7_once_each(app, client, world):
    headers, patient_id, person = world.enrolled()
    settlement_id = unpaid(app, world, headers, patient_id, person)
    with app.app_context():
        due = db.session.get(CreditSettlement, settlement_id).due_at
    assert run(app, due + timedelta(hours=20)) == {"reminded": 0, "suspended": 0}
    assert run(app, due + timedelta(days=1, hours=1))["reminded"] == 1
    assert run(app, due + timedelta(days=2))["reminded"] == 0
    assert run(app, due + timedelta(days=5))["reminded"] == 1  # D+3, sent late but once
    assert run(app, due + timedelta(days=7, minutes=1))["reminded"] == 1
    assert run(app, due + timedelta(days=8))["reminded"] == 0
    assert reminders(app) == [("credit.reminder", 1), ("credit.reminder", 3), ("credit.reminder", 7)]
    overview = client.get(credit_path(patient_id), headers=headers).json
    assert overview["settlements"][0]["overdue"] is False  # against the real clock it is not late yet


def test_past_the_grace_period_credit_stops_city_wide_until_paid(app, client, world, make):
    headers, patient_id, person = world.enrolled(city=True)
    other = World(app, client, make, code="H2")
    settlement_id = unpaid(app, world, headers, patient_id, person)
    with app.app_context():  # the settlement fell due 16 days ago
        db.session.execute(sa.update(CreditSettlement).values(due_at=now() - timedelta(days=16)))
        db.session.commit()
    assert run(app, now()) == {"reminded": 1, "suspended": 1}
    assert run(app, now()) == {"reminded": 0, "suspended": 0}
    assert reminders(app) == [("credit.reminder", 7), ("credit.suspended", None)]
    overview = client.get(credit_path(patient_id), headers=headers).json
    assert overview["suspended"] is True and overview["blocks"][0]["hospital_name"] == "全市"
    assert overview["settlements"][0]["overdue"] is True
    assert other.bill(person, 500)["hold"] is None and world.bill(person, 500)["hold"] is None
    refused = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                          json={"hospital_id": other.hospital_id, "consent_version": consent.VERSION})
    assert refused.status_code == 409 and refused.json["code"] == "credit_blocked" and "全市" in refused.json["message"]
    check_books(app)
    # Paying lifts it: the old settlement is still what the tap pays (its bills are settling).
    tapped = world.settle(headers, patient_id)
    assert tapped["settlement"]["id"] == settlement_id
    world.pay_jsapi(tapped["payment"]["out_trade_no"])
    with app.app_context():
        assert db.session.scalars(sa.select(CreditBlock.status)).one() == "lifted"
    assert client.get(credit_path(patient_id), headers=headers).json["suspended"] is False
    assert other.bill(person, 500)["hold"] is not None
    check_books(app)


def test_an_overdue_settlement_anywhere_refuses_new_credit(app, client, world, make):
    headers, patient_id, person = world.enrolled(city=True)
    other = World(app, client, make, code="H2")
    unpaid(app, world, headers, patient_id, person)
    with app.app_context():
        db.session.execute(sa.update(CreditSettlement).values(due_at=now() - timedelta(days=2)))
        db.session.commit()
    refused = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                          json={"hospital_id": other.hospital_id, "consent_version": consent.VERSION})
    assert refused.status_code == 409 and refused.json["code"] == "credit_overdue_elsewhere"
    assert other.bill(person, 700)["hold"] is None
    check_books(app)
