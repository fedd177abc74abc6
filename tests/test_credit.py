"""先诊疗后付费: enrolment, bills on credit, settling by JSAPI, leaving, voids, the window, the end-of-day job."""
import json
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.billing import ledger
from patient_api.billing.invoices import Invoice
from patient_api.billing.models import Bill
from patient_api.billing.presettlement import InsuredAccount
from patient_api.common.audit import AuditEntry
from patient_api.common.clock import now
from patient_api.common.outbox import OutboxMessage
from patient_api.credit import consent, jobs
from patient_api.credit.models import CreditBill, CreditBlock, CreditEnrolment, CreditPolicy, CreditSettlement
from patient_api.extensions import db
from patient_api.records.models import FamilyDoctorContract

from .credit import World, check_books, credit_path
from .test_chinese_errors import assert_chinese


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def count(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_policy_enrol_and_overview(app, client, world):
    headers, patient_id, _ = world.resident()
    terms = client.get(credit_path(patient_id, "/policy"), headers=headers,
                       query_string={"hospital_id": world.hospital_id})
    assert terms.status_code == 200
    assert (terms.json["limit_fen"], terms.json["limit_basis"], terms.json["enabled"]) == (100_000, "base", True)
    assert terms.json["consent_version"] == consent.VERSION and "先诊疗后付费" in terms.json["consent_title"]
    enrolled = world.enrol(headers, patient_id, world.hospital_id)
    assert (enrolled["status"], enrolled["limit_fen"], enrolled["available_fen"]) == ("active", 100_000, 100_000)
    assert enrolled["hospital_name"] == "测试医院H1"
    again = world.enrol(headers, patient_id, world.hospital_id)  # renewing keeps one enrolment
    assert again["id"] == enrolled["id"]
    city = world.enrol(headers, patient_id, None)
    assert city["hospital_name"] == "全市" and city["id"] != enrolled["id"]
    overview = client.get(credit_path(patient_id), headers=headers).json
    assert [e["id"] for e in overview["enrolments"]] == [enrolled["id"], city["id"]]
    assert overview["pending"] == [] and overview["contract"] is None and overview["suspended"] is False
    with app.app_context():
        row = db.session.get(CreditEnrolment, enrolled["id"])
        assert row.consent_version == consent.VERSION and row.consented_by and row.consented_at


def test_higher_limits_for_family_doctor_and_insured(app, client, world):
    headers, patient_id, _ = world.resident()
    with app.app_context():
        person_index = db.session.get(Patient, patient_id).id_number_index
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", year=2026))
        db.session.commit()
    assert world.enrol(headers, patient_id, world.hospital_id)["limit_basis"] == "insured"
    with app.app_context():
        db.session.add(FamilyDoctorContract(person_index=person_index, hospital_id=world.hospital_id,
                                            contract_no="QY1", team="一团队", doctor="张医生",
                                            starts_on=date(2020, 1, 1), ends_on=date(2099, 1, 1)))
        db.session.add(CreditPolicy(hospital_id=world.hospital_id, base_limit_fen=50_000,
                                    family_doctor_limit_fen=500_000, insured_limit_fen=150_000))
        db.session.commit()
    renewed = world.enrol(headers, patient_id, world.hospital_id)
    assert (renewed["limit_fen"], renewed["limit_basis"]) == (500_000, "family_doctor")


def test_refusals_are_chinese_with_codes_and_store_nothing(app, client, world, make):
    headers, patient_id, _ = world.resident(verified=False)
    response = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                           json={"hospital_id": world.hospital_id, "consent_version": consent.VERSION})
    assert response.status_code == 403 and response.json["code"] == "verification_required"
    headers, patient_id, _ = world.resident()
    assert_chinese(client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                               json={"hospital_id": 5, "consent_version": ["x"], "limit_fen": 10**9}))
    assert_chinese(client.post(credit_path(patient_id, "/enrolments"), headers=headers, json={}))
    assert_chinese(client.post(credit_path(patient_id, "/settlements"), headers=headers, json={"hospital": "x"}))
    assert_chinese(client.get(credit_path(patient_id, "/policy"), headers=headers, query_string={"city": "1"}))
    outdated = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                           json={"hospital_id": world.hospital_id, "consent_version": "2020-01"})
    assert outdated.status_code == 409 and outdated.json["code"] == "consent_outdated"
    assert "协议" in outdated.json["message"]
    unknown = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                          json={"hospital_id": "hsp_nope", "consent_version": consent.VERSION})
    assert unknown.status_code == 404 and unknown.json["code"] == "hospital_not_found"
    with app.app_context():
        db.session.add(CreditPolicy(hospital_id=world.hospital_id, enabled=False, base_limit_fen=1,
                                    family_doctor_limit_fen=1, insured_limit_fen=1))
        db.session.commit()
    closed = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                         json={"hospital_id": world.hospital_id, "consent_version": consent.VERSION})
    assert closed.status_code == 409 and closed.json["code"] == "credit_not_eligible"
    stranger, _ = make.resident(verified=True)
    assert client.get(credit_path(patient_id), headers=stranger).status_code == 404
    nothing = client.post(credit_path(patient_id, "/settlements"), headers=headers,
                          json={"hospital_id": world.hospital_id})
    assert nothing.status_code == 409 and nothing.json["code"] == "credit_nothing_to_settle"
    assert count(app, CreditEnrolment) == 0 and count(app, CreditSettlement) == 0


def test_bills_go_on_credit_within_the_limit_and_cannot_be_paid_alone(app, client, world):
    headers, patient_id, person = world.enrolled()
    with app.app_context():
        db.session.add(CreditPolicy(hospital_id=world.hospital_id, base_limit_fen=10_000,
                                    family_doctor_limit_fen=10_000, insured_limit_fen=10_000))
        db.session.commit()
    world.enrol(headers, patient_id, world.hospital_id)  # renewed at the hospital's own limit
    first, second = world.bill(person, 5100), world.bill(person, 4000)
    over = world.bill(person, 2000)  # 9100 + 2000 > 10000: payable as any bill
    assert first["hold"]["code"] == "credit_bill_pending_settlement" and second["hold"] is not None
    assert over["hold"] is None
    refused = client.post(f"/api/v1/bills/{first['id']}/payments", headers=headers, json={"method": "wechat_jsapi"})
    assert refused.status_code == 409 and refused.json["code"] == "credit_bill_pending_settlement"
    assert "待结算" in refused.json["message"]
    assert client.post(f"/api/v1/bills/{over['id']}/payments", headers=headers,
                       json={"method": "wechat_jsapi"}).status_code == 201
    overview = client.get(credit_path(patient_id), headers=headers).json
    (group,) = overview["pending"]
    assert group["total_fen"] == 9100 == overview["pending_total_fen"]
    assert [b["running_total_fen"] for b in group["bills"]] == [5100, 9100]
    assert group["bills"][0]["items"][0]["name"] == "阿莫西林胶囊"
    assert overview["enrolments"][0]["available_fen"] == 900
    check_books(app)


def test_settle_now_by_jsapi_pays_every_bill_once(app, client, world):
    headers, patient_id, person = world.enrolled()
    bills = [world.bill(person, 5100), world.bill(person, 2999)]
    settled = world.settle(headers, patient_id)
    assert settled["result"] == "jsapi" and settled["payment"]["jsapi"]["package"].startswith("prepay_id=")
    settlement = settled["settlement"]
    assert (settlement["status"], settlement["total_fen"], settlement["bill_count"]) == ("pending", 8099, 2)
    assert settlement["self_pay_fen"] == 8099 and sorted(settlement["bill_ids"]) == sorted(b["id"] for b in bills)
    again = world.settle(headers, patient_id)  # a second tap reuses the open order
    assert again["settlement"]["id"] == settlement["id"]
    assert again["payment"]["out_trade_no"] == settled["payment"]["out_trade_no"]
    check_books(app)
    wire = world.pay_jsapi(settled["payment"]["out_trade_no"])
    world.notify(wire)  # WeChat repeats itself: nothing changes twice
    history = client.get(credit_path(patient_id, "/settlements"), headers=headers).json["items"]
    assert [(s["status"], s["method"]) for s in history] == [("paid", "wechat_jsapi")]
    for bill in bills:
        shown = client.get(f"/api/v1/bills/{bill['id']}", headers=headers).json
        assert shown["status"] == "paid" and shown["hold"] is None
    assert client.get(credit_path(patient_id), headers=headers).json["pending"] == []
    inbox = client.get("/api/v1/me/messages", headers=headers).json["items"]
    assert any(m["title"] == "先诊疗后付费已结算" and "80.99元" in " ".join(m["lines"]) for m in inbox)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice).where(
            Invoice.bill_id == settlement["bill_id"])) == 1
        callbacks = [json.loads(row.payload)["data"] for row in db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.channel == "hospital_webhook", OutboxMessage.event == "bill.paid"))]
        assert sorted(c["order_no"] for c in callbacks if c.get("credit_settlement_id")) == sorted(
            b["order_no"] for b in bills)
        told = db.session.scalars(sa.select(OutboxMessage.event).where(OutboxMessage.channel == "wechat_message"))
        assert "credit.settled" in list(told)
        for bill in bills:
            assert ledger.balances(bill["id"]) == {"resident": 0, "hospital_receivable": 0}
    check_books(app)


def test_an_unpaid_settlement_says_when_it_becomes_overdue(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.bill(person, 1500)
    settlement = world.settle(headers, patient_id)["settlement"]
    due, overdue_at = (datetime.fromisoformat(settlement[k]) for k in ("due_at", "overdue_at"))
    assert overdue_at - due == timedelta(days=1) and settlement["overdue"] is False
    assert settlement["overdue_at"].endswith("+08:00")  # China time, like every instant residents read
    with app.app_context():
        row = db.session.get(CreditSettlement, settlement["id"])
        row.due_at = now() - timedelta(days=1, minutes=1)
        db.session.commit()
    shown = client.get(credit_path(patient_id), headers=headers).json["settlements"][0]
    assert shown["overdue"] is True and datetime.fromisoformat(shown["overdue_at"]) < now()


def test_leaving_needs_nothing_open(app, client, world):
    headers, patient_id, person = world.enrolled()
    enrolment_id = client.get(credit_path(patient_id), headers=headers).json["enrolments"][0]["id"]
    world.bill(person, 3000)
    refused = client.delete(credit_path(patient_id, f"/enrolments/{enrolment_id}"), headers=headers)
    assert refused.status_code == 409 and refused.json["code"] == "credit_open_bills"
    settled = world.settle(headers, patient_id)
    world.pay_jsapi(settled["payment"]["out_trade_no"])
    left = client.delete(credit_path(patient_id, f"/enrolments/{enrolment_id}"), headers=headers)
    assert left.status_code == 200 and left.json["status"] == "left" and left.json["available_fen"] == 0
    assert world.bill(person, 1000)["hold"] is None  # after leaving, bills are paid as before
    missing = client.delete(credit_path(patient_id, "/enrolments/cre_nope"), headers=headers)
    assert missing.status_code == 404 and missing.json["code"] == "credit_not_enrolled"


def test_his_void_of_a_settling_bill_cancels_the_settlement(app, client, world):
    headers, patient_id, person = world.enrolled()
    keep, void = world.bill(person, 4000), world.bill(person, 1500)
    first = world.settle(headers, patient_id)["settlement"]
    assert client.post(f"/api/v1/integration/bills/{void['order_no']}/void", headers=world.his).json[
        "status"] == "closed"
    check_books(app)
    with app.app_context():
        assert db.session.get(CreditSettlement, first["id"]).status == "cancelled"
        assert db.session.get(CreditBill, void["id"]).status == "void"
        assert db.session.get(Bill, first["bill_id"]).status == "closed"
    # The open order of the cancelled settlement can no longer pay it; a new tap settles what is left.
    second = world.settle(headers, patient_id)
    assert second["settlement"]["bill_ids"] == [keep["id"]] and second["settlement"]["total_fen"] == 4000
    world.pay_jsapi(second["payment"]["out_trade_no"])
    check_books(app)


def test_new_bills_join_a_waiting_settlement_nobody_is_paying(app, client, world):
    _, patient_id, person = world.enrolled()
    world.bill(person, 1000)
    with app.app_context():
        from patient_api.credit.settlement import open_settlement
        first = open_settlement(patient_id, world.hospital_id, trigger="day_end").id
        db.session.commit()
    world.bill(person, 2000)
    with app.app_context():
        from patient_api.credit.settlement import open_settlement
        second = open_settlement(patient_id, world.hospital_id)
        db.session.commit()
        assert second.id != first and second.total_fen == 3000
        assert db.session.get(CreditSettlement, first).status == "cancelled"
    check_books(app)


def test_the_window_settles_and_staff_suspend_and_lift(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.bill(person, 2500)
    cashier, nurse = world.cashier(), world.staff(role="nurse")
    path = f"/api/v1/staff/credit/patients/{patient_id}"
    assert client.get(path, headers=nurse).json["code"] == "role_forbidden"
    assert client.get(path).status_code == 401
    seen = client.get(path, headers=cashier).json
    assert seen["pending_total_fen"] == 2500
    paid = client.post(f"{path}/settlements", headers=cashier)
    assert paid.status_code == 201 and (paid.json["status"], paid.json["method"]) == ("paid", "counter")
    again = client.post(f"{path}/settlements", headers=cashier)
    assert again.status_code == 409 and again.json["code"] == "credit_nothing_to_settle"
    check_books(app)
    assert_chinese(client.post(f"{path}/suspension", headers=cashier, json={"note": "欠" * 201, "until": 1}))
    assert count(app, CreditBlock) == 0
    blocked = client.post(f"{path}/suspension", headers=cashier, json={"note": "多次欠费"})
    assert blocked.status_code == 201 and blocked.json["reason"] == "staff"
    assert client.post(f"{path}/suspension", headers=cashier).json["id"] == blocked.json["id"]  # no body: same
    assert world.bill(person, 1000)["hold"] is None  # suspended: no new credit here
    refused = client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                          json={"hospital_id": world.hospital_id, "consent_version": consent.VERSION})
    assert refused.status_code == 409 and refused.json["code"] == "credit_blocked"
    assert client.delete(f"{path}/suspension", headers=cashier).status_code == 200
    missing = client.delete(f"{path}/suspension", headers=cashier)
    assert missing.status_code == 404 and missing.json["code"] == "credit_block_not_found"
    assert world.bill(person, 1000)["hold"] is not None
    stranger_headers, stranger_id, _ = world.resident()
    assert client.get(f"/api/v1/staff/credit/patients/{stranger_id}", headers=cashier).status_code == 404
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEntry.action)))
        assert {"credit.view", "credit.settle_counter", "credit.suspend", "credit.lift",
                "credit.access_denied"} <= actions
        counter = db.session.scalars(sa.select(Bill).filter_by(kind="credit_settlement")).one()
        assert ledger.balances(counter.id)["counter_cash"] == 2500


def test_the_day_end_job_settles_yesterday_only(app, client, world):
    _, patient_id, person = world.enrolled()
    old, today = world.bill(person, 1200), world.bill(person, 800)
    with app.app_context():
        db.session.execute(sa.update(CreditBill).where(CreditBill.bill_id == old["id"]).values(
            created_at=now() - timedelta(days=1, hours=1)))
        db.session.commit()
        assert jobs.close_days() == {"settled": 1, "refused": 0}
        assert jobs.close_days() == {"settled": 0, "refused": 0}  # once
        settlement = db.session.scalars(sa.select(CreditSettlement)).one()
        assert (settlement.total_fen, settlement.trigger) == (1200, "day_end")
        assert db.session.get(CreditBill, today["id"]).status == "open"
        told = db.session.scalars(sa.select(OutboxMessage.event).where(OutboxMessage.channel == "wechat_message"))
        assert "credit.settlement_due" in list(told)
    check_books(app)


def test_insured_bills_are_presettled_together(app, client, world):
    headers, patient_id, person = world.resident()
    with app.app_context():
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", year=now().year,
                                      account_balance_fen=0))
        db.session.commit()
    assert world.enrol(headers, patient_id, world.hospital_id)["limit_fen"] == 200_000
    world.bill(person, 60_000, insurance_type="employee")
    world.bill(person, 60_000, insurance_type="employee")
    settled = world.settle(headers, patient_id)["settlement"]
    parts = settled["insurance_fund_fen"] + settled["personal_account_fen"] + settled["self_pay_fen"]
    assert parts == settled["total_fen"] == 120_000 and settled["insurance_fund_fen"] > 0
    world.pay_jsapi(world.settle(headers, patient_id)["payment"]["out_trade_no"])
    check_books(app)
