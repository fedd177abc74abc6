"""无感支付: the 委托代扣 contract (sign, replay, terminate), deductions by the worker and by the tap, 余额不足 and
bounded retries, crash recovery, replayed notifications, and reconciliation seeing deductions as payments."""
import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Payment
from patient_api.billing.reconcile import reconcile
from patient_api.billing.wechatpay import build_notification, contract_resource
from patient_api.common.clock import now, today_local
from patient_api.common.outbox import OutboxMessage
from patient_api.credit import deductions, jobs
from patient_api.credit.models import CreditBill, CreditContract, CreditSettlement
from patient_api.extensions import db

from .credit import World, check_books, credit_path
from .test_payments import platform


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def openid_of(app, patient_id):
    with app.app_context():
        return db.session.scalars(sa.select(CreditContract.openid).filter_by(patient_id=patient_id)).first()


def settlement_row(app, settlement_id=None):
    with app.app_context():
        query = sa.select(CreditSettlement)
        if settlement_id:
            query = query.filter_by(id=settlement_id)
        row = db.session.scalars(query.order_by(CreditSettlement.created_at.desc())).first()
        db.session.expunge(row)
        return row


def day_end(app, when=None):
    """Age every open bill by a day and run the end-of-day job."""
    with app.app_context():
        db.session.execute(sa.update(CreditBill).where(CreditBill.status == "open").values(
            created_at=now() - timedelta(days=1)))
        db.session.commit()
        return jobs.close_days(when or now())


def run_deductions(app, when=None):
    with app.app_context():
        return deductions.run(when or now())


def events(app, channel="wechat_message"):
    with app.app_context():
        return [row.event for row in db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.channel == channel).order_by(OutboxMessage.created_at))]


def test_contract_is_signed_by_notification_and_replays_change_nothing(app, client, world, make):
    headers, patient_id, _ = world.resident()
    refused = client.post(credit_path(patient_id, "/contract"), headers=headers)
    assert refused.status_code == 409 and refused.json["code"] == "credit_not_enrolled"
    world.enrol(headers, patient_id, world.hospital_id)
    opened = client.post(credit_path(patient_id, "/contract"), headers=headers)
    assert opened.status_code == 201 and opened.json["status"] == "signing" and opened.json["sandbox"] is True
    assert opened.json["redirect_url"].startswith("https://")
    stranger, _ = make.resident(verified=True)
    code = opened.json["out_contract_code"]
    assert client.post(f"/api/v1/sandbox/wechatpay/contracts/{code}/sign", headers=stranger).status_code == 404
    signed = client.post(f"/api/v1/sandbox/wechatpay/contracts/{code}/sign", headers=headers)
    assert signed.status_code == 200 and signed.json["notification_queued"] is True
    assert events(app, "wechatpay_sandbox") == ["PAPAY.SIGN"]
    with app.app_context():
        wire = pay_gateway()[1].contract_notification(code, time.time())
    world.notify(wire)
    world.notify(wire)  # WeChat repeats: still one active contract
    assert client.get(credit_path(patient_id), headers=headers).json["contract"]["status"] == "active"
    assert events(app).count("credit.contract_signed") == 1
    again = client.post(credit_path(patient_id, "/contract"), headers=headers)
    assert again.status_code == 409 and again.json["code"] == "credit_contract_exists"


def test_forged_or_foreign_contract_notifications_are_refused(app, client, world):
    headers, patient_id, _ = world.enrolled()
    opened = world.sign_contract(headers, patient_id)
    settings, key = platform(app)
    openid = openid_of(app, patient_id)
    for changes, code in (({"out_contract_code": "NOPE"}, "unknown_contract"), ({"mchid": "1"}, "mchid_mismatch"),
                          ({"openid": "someone-else"}, "contract_mismatch")):
        resource = contract_resource(settings, app.config["WECHATPAY_PAPAY_PLAN_ID"], opened["out_contract_code"],
                                     "2026000", openid, "DELETE", time.time())
        resource.update(changes)
        response = world.notify(build_notification(settings, key, "PAPAY.TERMINATE", resource, time.time()),
                                expect=400)
        assert response.json["code"] == code
    assert client.get(credit_path(patient_id), headers=headers).json["contract"]["status"] == "active"


def test_the_tap_deducts_and_reconciliation_sees_the_deduction(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.bill(person, 3300)
    world.bill(person, 1700)
    tapped = world.settle(headers, patient_id)
    assert tapped["result"] == "deducted" and tapped["payment"] is None
    settlement = settlement_row(app)
    assert (settlement.status, settlement.method, settlement.deduction_attempts) == ("paid", "wechat_papay", 1)
    with app.app_context():
        payment = db.session.get(Payment, settlement.deduction_payment_id)
        assert (payment.status, payment.amount_fen, payment.method) == ("paid", 5000, "wechat_papay")
        wire = pay_gateway()[1].deduction_notification(payment.out_trade_no, time.time())
        queued = [json.loads(r.payload)["body"] for r in db.session.scalars(sa.select(OutboxMessage).filter_by(
            channel="wechatpay_sandbox", event="TRANSACTION.SUCCESS"))]
        assert len(queued) == 1  # the sandbox also sends WeChat's notification; applying it again changes nothing
    world.notify(wire)
    check_books(app)
    with app.app_context():
        run = reconcile(today_local())
        assert run.status == "balanced", [(m.kind, m.detail) for m in run.mismatches]
        assert run.ledger_payment_fen == 5000 == run.wechat_total_fen
        db.session.rollback()


def test_the_worker_deducts_after_the_day_ends(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.bill(person, 4200)
    assert day_end(app)["settled"] == 1
    assert settlement_row(app).next_deduction_at is not None
    assert run_deductions(app) == {"paid": 1}
    assert run_deductions(app) == {}
    settlement = settlement_row(app)
    assert (settlement.status, settlement.method) == ("paid", "wechat_papay")
    assert "credit.settlement_due" not in events(app) and "credit.settled" in events(app)
    check_books(app)


def test_the_jobs_command_settles_deducts_and_reminds_at_once(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.bill(person, 4200)
    with app.app_context():  # the bill is from yesterday: the day is over
        db.session.execute(sa.update(CreditBill).values(created_at=now() - timedelta(days=1)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "credit"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"settled": {"settled": 1, "refused": 0}, "deductions": {"paid": 1},
                                         "overdue": {"reminded": 0, "suspended": 0}}
    assert (settlement_row(app).status, settlement_row(app).method) == ("paid", "wechat_papay")
    again = app.test_cli_runner().invoke(args=["jobs", "credit"])
    assert json.loads(again.output)["deductions"] == {}
    check_books(app)


def test_not_enough_money_is_retried_then_the_resident_is_asked(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.wallet(openid_of(app, patient_id), 100)
    world.bill(person, 4200)
    day_end(app)
    start = now()
    assert run_deductions(app, start) == {"failed": 1}
    row = settlement_row(app)
    assert (row.status, row.deduction_attempts, row.deduction_failed) == ("pending", 1, False)
    assert row.next_deduction_at >= start + timedelta(seconds=1799)
    assert run_deductions(app, start + timedelta(minutes=10)) == {}  # backoff
    assert run_deductions(app, start + timedelta(minutes=31)) == {"failed": 1}
    assert run_deductions(app, start + timedelta(hours=7)) == {"failed": 1}
    row = settlement_row(app)
    assert (row.deduction_attempts, row.deduction_failed, row.next_deduction_at) == (3, True, None)
    assert events(app).count("credit.deduction_failed") == 1
    assert run_deductions(app, start + timedelta(days=1)) == {}
    with app.app_context():
        tried = db.session.scalars(sa.select(Payment).filter_by(method="wechat_papay")).all()
        assert len({p.out_trade_no for p in tried}) == 3 and {p.status for p in tried} == {"closed"}
    check_books(app)
    tapped = world.settle(headers, patient_id)  # retries used up: the resident pays in the wallet
    assert tapped["result"] == "jsapi"
    world.pay_jsapi(tapped["payment"]["out_trade_no"])
    assert settlement_row(app).method == "wechat_jsapi"
    check_books(app)


def test_a_crash_before_asking_wechat_is_recovered_by_the_follow_up(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.bill(person, 999)
    day_end(app)
    with app.app_context():
        settlement_id = db.session.scalars(sa.select(CreditSettlement.id)).one()
        assert deductions.begin(settlement_id) is not None  # the worker died right after committing this
        db.session.commit()
        assert deductions.begin(settlement_id) is None  # nobody starts a second attempt meanwhile
        db.session.rollback()
    assert run_deductions(app, now() + timedelta(minutes=1)) == {"paid": 1}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
            Payment.method == "wechat_papay")) == 1
    check_books(app)


def test_terminating_the_contract_stops_deductions(app, client, world):
    headers, patient_id, person = world.enrolled()
    opened = world.sign_contract(headers, patient_id)
    ended = client.delete(credit_path(patient_id, "/contract"), headers=headers)
    assert ended.status_code == 200 and ended.json["status"] == "active"  # until WeChat confirms
    with app.app_context():
        wire = pay_gateway()[1].contract_notification(opened["out_contract_code"], time.time())
        assert "PAPAY.TERMINATE" in events(app, "wechatpay_sandbox")
    world.notify(wire)
    world.notify(wire)
    assert client.get(credit_path(patient_id), headers=headers).json["contract"] is None
    missing = client.delete(credit_path(patient_id, "/contract"), headers=headers)
    assert missing.status_code == 404 and missing.json["code"] == "credit_contract_not_found"
    world.bill(person, 800)
    assert world.settle(headers, patient_id)["result"] == "jsapi"


def test_the_payer_ending_the_contract_in_wechat_is_followed(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.bill(person, 800)
    day_end(app)  # a deduction is scheduled…
    with app.app_context():
        contract_id = db.session.scalars(sa.select(CreditContract.contract_id)).one()
        wire = pay_gateway()[1].simulate_user_termination(contract_id, time.time())
    world.notify(wire)  # …and the payer ends the contract in WeChat first
    with app.app_context():
        assert db.session.scalars(sa.select(CreditContract)).one().termination_mode == 2
    assert run_deductions(app) == {"skipped": 1}
    assert settlement_row(app).next_deduction_at is None
    check_books(app)


def test_an_abandoned_signing_gives_way_and_a_late_signature_still_counts(app, client, world, make):
    headers, patient_id, person = world.enrolled()
    first = client.post(credit_path(patient_id, "/contract"), headers=headers).json
    proxy = make.login()
    make.patient(proxy, relation="child", id_number=person["id_number"], name=person["name"])
    with app.app_context():  # the self account verified first, so the proxy waits for consent; approve it
        from patient_api.accounts.models import PatientLink
        db.session.execute(sa.update(PatientLink).where(PatientLink.patient_id == patient_id).values(
            status="verified"))
        db.session.commit()
    busy = client.post(credit_path(patient_id, "/contract"), headers=proxy)
    assert busy.status_code == 409 and busy.json["code"] == "credit_contract_exists"
    with app.app_context():  # ten minutes later WeChat's signing page is gone
        db.session.execute(sa.update(CreditContract).values(created_at=now() - timedelta(minutes=11)))
        db.session.commit()
    second = client.post(credit_path(patient_id, "/contract"), headers=proxy)
    assert second.status_code == 201 and second.json["out_contract_code"] != first["out_contract_code"]
    with app.app_context():  # the first account signs its old page after all: WeChat's word stands
        wire = pay_gateway()[1].simulate_contract_signing(first["out_contract_code"], time.time())
    world.notify(wire)
    with app.app_context():
        states = dict(db.session.execute(sa.select(CreditContract.out_contract_code, CreditContract.status)).all())
    assert states == {first["out_contract_code"]: "active", second.json["out_contract_code"]: "terminated"}
    assert client.get(credit_path(patient_id), headers=proxy).json["contract"]["status"] == "active"
