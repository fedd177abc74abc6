"""The whole bedside flow (床旁结算) end to end, with a surplus refunded across deposits and with a balance due."""
from datetime import timedelta

import sqlalchemy as sa

from patient_api.billing import ledger
from patient_api.billing.models import Bill, Payment, Refund
from patient_api.common.audit import AuditEntry
from patient_api.common.clock import today_local
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db
from patient_api.inpatient import settlement

from .inpatient import NOTIFY, Hospital, in_db, line, stay_lines

STAFF = "/api/v1/staff/admissions"


def test_surplus_is_refunded_across_both_deposits(app, client, make):
    h = Hospital(app, client, make)
    family, patient_id, person = h.resident()
    nurse = h.staff(wards="W1")
    admission = h.admit(person, admission_no="ZY2026001", bed="12")
    assert admission["status"] == "admitted" and admission["orders_pending"] is True
    assert h.admit(person, admission_no="ZY2026001", bed="12", expect=200)["id"] == admission["id"]
    first = h.paid_deposit(family, admission["id"], 300_000)
    second = h.paid_deposit(family, admission["id"], 200_000)
    assert first["bill"]["kind"] == "inpatient_deposit" and first["payment"]["amount_fen"] == 300_000

    lines = stay_lines(days=3)
    h.charges("ZY2026001", lines[:8])  # two days at a time, as HIS sends its nightly batches
    pushed = h.charges("ZY2026001", lines[8:]).json
    charges_fen = sum(i["quantity"] * i["unit_price_fen"] for i in lines)
    assert pushed["charges_total_fen"] == charges_fen == 135_520
    again = h.charges("ZY2026001", lines[:8]).json  # a re-sent batch adds nothing
    assert (again["accepted"], again["duplicates"], again["charges_total_fen"]) == (0, 8, charges_fen)

    seen = client.get("/api/v1/admissions", headers=family).json["items"]
    assert [(a["id"], a["deposits_fen"], a["deposit_balance_fen"], a["charges_total_fen"]) for a in seen] == [
        (admission["id"], 500_000, 500_000, charges_fen)]
    assert seen[0]["available_fen"] == 500_000 - charges_fen and seen[0]["patient_name"].count("*") >= 1
    day = today_local() - timedelta(days=2)
    daily = client.get(f"/api/v1/admissions/{admission['id']}/daily-charges?date={day}", headers=family).json
    assert {c["category"]: c["total_fen"] for c in daily["categories"]} == {
        "床位费": 4500, "护理费": 3600, "药品": 2 * 8860 + 3 * 520, "检查": 24000}
    assert daily["total_fen"] == 4500 + 3600 + 17720 + 1560 + 24000 and len(daily["days"]) == 4

    h.signal("ZY2026001", "discharge-order")
    refused = client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=nurse)
    assert refused.status_code == 409 and refused.json["code"] == "orders_pending"
    ward = client.get("/api/v1/staff/wards/W1/admissions", headers=nurse).json["items"]
    assert ward[0]["flags"] == ["orders_pending"] and ward[0]["bed_no"] == "12"
    h.signal("ZY2026001", "orders-complete")
    reviewed = client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=nurse)
    assert reviewed.status_code == 200 and reviewed.json["status"] == "reviewed"
    late = h.charges("ZY2026001", [line("LATE-1", today_local())], expect=409)
    assert late.json["code"] == "admission_closed"

    preview = client.post(f"{STAFF}/{admission['id']}/pre-settlement", headers=nurse).json
    assert preview["total_fen"] == charges_fen
    assert preview["insurance_fund_fen"] + preview["personal_account_fen"] + preview["self_pay_fen"] == charges_fen
    assert preview["insurance_fund_fen"] > 0 and preview["balance_due_fen"] == 0
    assert preview["refund_fen"] == 500_000 - preview["self_pay_fen"]

    settled = client.post(f"{STAFF}/{admission['id']}/settle", headers=nurse)
    assert settled.status_code == 200, settled.json
    result = settled.json
    assert result["status"] == "settled" and result["balance_due_fen"] == 0
    assert {k: result[k] for k in preview} == preview
    by_payment = {r["payment_id"]: r["amount_fen"] for r in result["refunds"]}
    first_payment, second_payment = first["payment"]["payment_id"], second["payment"]["payment_id"]
    # Self-pay is taken from the oldest deposit; the rest of it and the whole newer one go back.
    assert by_payment == {first_payment: 300_000 - result["self_pay_fen"], second_payment: 200_000}
    receipt = result["invoice"]
    assert receipt["status"] == "issued" and receipt["total_fen"] == charges_fen
    assert receipt["self_pay_fen"] == result["self_pay_fen"] and len(receipt["items"]) == 6  # merged by code and price
    assert client.post(f"{STAFF}/{admission['id']}/settle", headers=nurse).json["id"] == result["id"]

    assert h.run_refunds() == {"refunded": 2}
    family_view = client.get(f"/api/v1/admissions/{admission['id']}/settlement", headers=family).json
    assert [r["status"] for r in family_view["refunds"]] == ["succeeded", "succeeded"]
    assert family_view["invoice"]["number"] == receipt["number"]
    assert client.get(f"/api/v1/bills/{result['bill_id']}/invoice", headers=family).json["number"] == receipt["number"]
    after = client.get(f"/api/v1/admissions/{admission['id']}", headers=family).json
    assert (after["status"], after["deposit_balance_fen"]) == ("settled", 0)
    printed = client.get(f"{STAFF}/{admission['id']}/receipt", headers=nurse).json
    assert printed["number"] == receipt["number"]

    def check():
        terms = settlement.identity(admission["id"])
        assert terms == {"deposits_fen": 500_000, "self_pay_fen": result["self_pay_fen"],
                         "refunds_fen": 500_000 - result["self_pay_fen"], "balance_fen": 0, "gap_fen": 0}
        for bill in db.session.scalars(sa.select(Bill).filter_by(admission_id=admission["id"])):
            assert ledger.derived_status(bill.id) == bill.status, bill.kind
            assert ledger.balances(bill.id).get("resident", 0) == 0
        assert sum(p.refunded_fen for p in db.session.scalars(sa.select(Payment))) == 500_000 - result["self_pay_fen"]
        events = db.session.execute(sa.select(OutboxMessage.event).filter_by(channel="wechat_message")).scalars().all()
        # Two deposits paid, the stay settled, the surplus of each deposit refunded.
        assert sorted(events) == ["inpatient.settled"] + ["payment.received"] * 2 + ["refund.done"] * 2
        actions = db.session.scalars(sa.select(AuditEntry.action).filter_by(actor_type="staff")
                                     .where(AuditEntry.action.not_like("staff.%")).order_by(AuditEntry.id)).all()
        # Successful actions only: a refused one changed nothing and its transaction rolls back.
        assert actions == ["ward.list", "admission.review", "admission.pre_settlement", "admission.settle",
                           "settlement.receipt"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 2
    in_db(app, check)


def test_balance_due_is_paid_by_qr_at_the_bed(app, client, make):
    h = Hospital(app, client, make)
    family, patient_id, person = h.resident()
    nurse = h.staff(wards="W1,W3", role="cashier")
    reviewer = h.staff(wards="W3")
    admission = h.admit(person, ward="W3", bed="+1", insurance_type="resident")
    number = admission["admission_no"]
    deposit = h.paid_deposit(family, admission["id"], 20_000)
    h.charges(number, stay_lines(days=2))
    h.signal(number, "orders-complete")
    h.signal(number, "discharge-order")
    cashier_review = client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=nurse)
    assert cashier_review.status_code == 403 and cashier_review.json["code"] == "role_forbidden"
    assert client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=reviewer).status_code == 200

    result = client.post(f"{STAFF}/{admission['id']}/settle", headers=nurse).json
    assert result["status"] == "awaiting_payment" and result["refunds"] == [] and result["invoice"] is None
    assert result["deposit_applied_fen"] == 20_000
    assert result["balance_due_fen"] == result["self_pay_fen"] - 20_000 > 0
    assert client.get(f"{STAFF}/{admission['id']}/settlement", headers=nurse).json == result  # what the tablet polls
    ward = client.get("/api/v1/staff/wards/W3/admissions", headers=nurse).json["items"]
    assert ward[0]["flags"] == ["balance_due"] and ward[0]["deposit_balance_fen"] == 0
    # The family is told on WeChat; the nurse shows a Native QR on the tablet.
    qr = client.post(f"{STAFF}/{admission['id']}/settlement/payment", json={"method": "wechat_native"}, headers=nurse)
    assert qr.status_code == 201 and qr.json["code_url"].startswith("weixin://")
    assert qr.json["amount_fen"] == result["balance_due_fen"]
    assert client.get(f"{STAFF}/{admission['id']}/receipt", headers=nurse).json["code"] == "invoice_not_found"
    wire = h.pay_at_wechat(qr.json["out_trade_no"])
    for _ in range(3):  # WeChat retries; applied once
        assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204

    done = client.get(f"/api/v1/admissions/{admission['id']}/settlement", headers=family).json
    assert done["status"] == "settled" and done["invoice"]["self_pay_fen"] == result["self_pay_fen"]
    assert done["invoice"]["total_fen"] == result["total_fen"]
    polled = client.get(f"{STAFF}/{admission['id']}/settlement", headers=nurse).json
    assert polled["status"] == "settled" and polled["invoice"]["number"] == done["invoice"]["number"]
    other_ward = h.staff(wards="W1")
    assert client.get(f"{STAFF}/{admission['id']}/settlement", headers=other_ward).status_code == 404
    again = client.post(f"{STAFF}/{admission['id']}/settlement/payment", json={}, headers=nurse)
    assert again.status_code == 409 and again.json["code"] == "nothing_due"

    def check():
        assert settlement.identity(admission["id"]) == {
            "deposits_fen": 20_000, "self_pay_fen": result["self_pay_fen"], "refunds_fen": 0,
            "balance_fen": result["balance_due_fen"], "gap_fen": 0}
        deposit_bill = db.session.get(Bill, deposit["bill"]["id"])
        assert ledger.balances(deposit_bill.id)["hospital_receivable"] == 0  # all of it went into the settlement
        events = db.session.execute(sa.select(OutboxMessage.event).filter_by(channel="wechat_message")).scalars().all()
        assert sorted(events) == ["inpatient.balance_due", "inpatient.settled", "payment.received"]
    in_db(app, check)


def test_stay_without_charges_refunds_every_deposit_and_the_cap_is_set_per_hospital(app, client, make):
    h = Hospital(app, client, make)
    family, _, person = h.resident()
    nurse = h.staff(wards="W1")
    result = app.test_cli_runner().invoke(args=["hospital", "set-deposits", "H1", "--cap-fen", "50000",
                                                "--low-fen", "10000"])
    assert result.exit_code == 0, result.output
    admission = h.admit(person, insurance_type="self_pay")
    h.paid_deposit(family, admission["id"], 30_000)
    over = h.deposit(family, admission["id"], 20_001)
    assert over.status_code == 409 and over.json["code"] == "deposit_cap_exceeded"
    h.paid_deposit(family, admission["id"], 20_000)  # exactly at the cap
    h.signal(admission["admission_no"], "orders-complete")
    h.signal(admission["admission_no"], "discharge-order")
    client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=nurse)
    result = client.post(f"{STAFF}/{admission['id']}/settle", headers=nurse).json
    assert (result["total_fen"], result["self_pay_fen"], result["refund_fen"], result["status"]) == (0, 0, 50_000,
                                                                                                    "settled")
    assert sorted(r["amount_fen"] for r in result["refunds"]) == [20_000, 30_000]
    assert h.run_refunds() == {"refunded": 2}
    assert in_db(app, lambda: settlement.identity(admission["id"])) == {
        "deposits_fen": 50_000, "self_pay_fen": 0, "refunds_fen": 50_000, "balance_fen": 0, "gap_fen": 0}


def test_a_refused_look_at_another_ward_is_audited(app, client, make):
    h = Hospital(app, client, make)
    _, _, person = h.resident()
    admission = h.admit(person, ward="W1")
    other_ward = h.staff(wards="W2")
    assert client.get(f"{STAFF}/{admission['id']}", headers=other_ward).status_code == 404
    assert client.get("/api/v1/staff/wards/W1/admissions", headers=other_ward).status_code == 403
    rows = in_db(app, lambda: [(e.action, e.resource) for e in db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.like("%access_denied")).order_by(AuditEntry.id))])
    assert rows == [("admission.access_denied", admission["id"]), ("ward.access_denied", "W1")]


def test_family_pays_the_balance_on_the_phone(app, client, make):
    h = Hospital(app, client, make)
    family, _, person = h.resident()
    nurse = h.staff(wards="W1")
    admission = h.admit(person)
    h.charges(admission["admission_no"], stay_lines(days=1))
    h.signal(admission["admission_no"], "orders-complete")
    h.signal(admission["admission_no"], "discharge-order")
    client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=nurse)
    result = client.post(f"{STAFF}/{admission['id']}/settle", headers=nurse).json
    assert result["deposits_fen"] == 0 and result["balance_due_fen"] == result["self_pay_fen"] > 0
    order = client.post(f"/api/v1/bills/{result['bill_id']}/payments", json={"method": "wechat_jsapi"}, headers=family)
    assert order.status_code == 201 and order.json["amount_fen"] == result["balance_due_fen"]
    assert order.json["jsapi"]["package"].startswith("prepay_id=")
    wire = h.pay_at_wechat(order.json["out_trade_no"])
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204
    done = client.get(f"/api/v1/admissions/{admission['id']}", headers=family).json
    assert done["status"] == "settled" and done["flags"] == []
    receipt = client.get(f"/api/v1/bills/{result['bill_id']}/invoice", headers=family).json
    assert (receipt["total_fen"], receipt["self_pay_fen"]) == (result["total_fen"], result["self_pay_fen"])
    assert in_db(app, lambda: settlement.identity(admission["id"])["gap_fen"]) == 0
