"""Electronic receipts: issued once per paid bill, gapless numbers under concurrency, 冲红 on full refund."""
import hashlib
import hmac
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.billing.models import Bill, Payment
from patient_api.common.clock import now, to_local
from patient_api.common.masking import mask_name
from patient_api.errors import Conflict
from patient_api.extensions import db

from .factories import hospital_key

PUSH = "/api/v1/integration/bills"
ITEMS = [{"code": "Y001", "name": "阿莫西林胶囊", "category": "西药", "quantity": 2, "unit_price_fen": 1550,
          "amount_fen": 3100, "insurance_class": "甲"},
         {"code": "J001", "name": "血常规", "category": "检验", "quantity": 1, "unit_price_fen": 2000,
          "amount_fen": 2000, "insurance_class": "乙"}]


@pytest.fixture
def invoices():
    """The module under test."""
    from patient_api.billing import invoices
    return invoices


def paid_bill(app, client, make, key, order_no="MZ001", split=(3100, 1500, 500), status="paid"):
    """A HIS bill of 5100 fen with a payment of that split (self-pay, fund, personal); returns (bill_id, name)."""
    _, patient_id = make.resident()
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        number, name = patient.id_number, patient.name
    body = {"order_no": order_no, "patient": {"id_number": number}, "department": "内科", "doctor": "王建国",
            "items": [{k: v for k, v in item.items() if k != "amount_fen"} for item in ITEMS]}
    response = client.post(PUSH, json=body, headers=key)
    assert response.status_code == 201, response.json
    bill_id = response.json["id"]
    with app.app_context():
        self_pay, fund, personal = split
        db.session.add(Payment(bill_id=bill_id, out_trade_no="T" + uuid.uuid4().hex[:20], method="wechat_jsapi",
                               status=status, amount_fen=self_pay, insurance_fund_fen=fund,
                               personal_account_fen=personal, expires_at=now(),
                               paid_at=now() if status == "paid" else None,
                               transaction_id=f"4200{uuid.uuid4().int % 10**24:024d}" if status == "paid" else None))
        db.session.get(Bill, bill_id).status = "paid" if status == "paid" else "paying"
        db.session.commit()
    return bill_id, name


def issue_in_context(app, invoices, bill_id):
    """issue() the way a request would: own app context, then commit."""
    with app.app_context():
        bill = db.session.get(Bill, bill_id)
        invoice = invoices.issue(bill, bill.payments[0], now())
        db.session.commit()
        return invoice.id, invoice.number


def race(calls):
    """Run the calls from one thread each, released together."""
    barrier = threading.Barrier(len(calls))

    def one(call):
        barrier.wait(timeout=30)
        return call()
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def counter(invoices, code):
    return db.session.get(invoices.InvoiceCounter, code).last_number


def test_issue_creates_one_receipt_with_the_split(app, client, make, invoices):
    bill_id, name = paid_bill(app, client, make, hospital_key(app))
    with app.app_context():
        bill = db.session.get(Bill, bill_id)
        instant = now()
        invoice = invoices.issue(bill, bill.payments[0], instant)
        db.session.commit()
        assert re.fullmatch(rf"37{to_local(instant).year % 100:02d}\d{{4}}", invoice.code)
        assert invoice.code == invoices.receipt_code(bill.hospital_id, instant)
        assert (invoice.number, invoice.status) == ("0000000001", "issued")
        assert re.fullmatch(r"[0-9a-f]{6}", invoice.check_code)
        expected = hmac.new(b"test-secret", f"{invoice.code}{invoice.number}5100".encode(), hashlib.sha256)
        assert invoice.check_code == expected.hexdigest()[:6]
        assert invoices.verify(invoice.code, invoice.number, 5100, invoice.check_code.upper())
        assert not invoices.verify(invoice.code, invoice.number, 5101, invoice.check_code)
        assert (invoice.total_fen, invoice.self_pay_fen, invoice.insurance_fund_fen,
                invoice.personal_account_fen) == (5100, 3100, 1500, 500)
        assert json.loads(invoice.items_json) == ITEMS
        assert invoice.payer_name_masked == mask_name(name) and invoice.payer_name_masked != name
        assert (invoice.hospital_id, invoice.patient_id) == (bill.hospital_id, bill.patient_id)
        assert invoices.issue(bill, bill.payments[0], now()).id == invoice.id
        assert invoices.invoice_for_bill(bill_id).id == invoice.id
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(invoices.Invoice)) == 1
        assert counter(invoices, invoice.code) == 1


def test_unpaid_bill_gets_no_receipt(app, client, make, invoices):
    bill_id, _ = paid_bill(app, client, make, hospital_key(app), status="created")
    with app.app_context():
        bill = db.session.get(Bill, bill_id)
        with pytest.raises(Conflict):
            invoices.issue(bill, bill.payments[0], now())
        assert invoices.invoice_for_bill(bill_id) is None


def test_concurrent_issue_of_one_bill_gives_one_receipt_and_burns_no_number(app, client, make, invoices):
    key = hospital_key(app)
    bill_id, _ = paid_bill(app, client, make, key)
    results = race([lambda: issue_in_context(app, invoices, bill_id)] * 8)
    assert len(set(results)) == 1 and results[0][1] == "0000000001"
    other_id, _ = paid_bill(app, client, make, key, order_no="MZ002")
    assert issue_in_context(app, invoices, other_id)[1] == "0000000002"  # the losers gave their numbers back
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(invoices.Invoice)) == 2


def test_numbers_of_several_bills_are_distinct_and_consecutive(app, client, make, invoices):
    key = hospital_key(app)
    bill_ids = [paid_bill(app, client, make, key, order_no=f"MZ{n:03d}")[0] for n in range(5)]
    calls = [lambda bill_id=bill_id: issue_in_context(app, invoices, bill_id) for bill_id in bill_ids * 2]
    results = race(calls)
    assert len({invoice_id for invoice_id, _ in results}) == 5
    assert sorted({number for _, number in results}) == [f"{n:010d}" for n in range(1, 6)]
    with app.app_context():
        rows = db.session.execute(sa.select(invoices.Invoice.bill_id, invoices.Invoice.code)).all()
        assert sorted(bill for bill, _ in rows) == sorted(bill_ids) and len({code for _, code in rows}) == 1


def test_reverse_takes_its_own_next_number_once(app, client, make, invoices):
    key = hospital_key(app)
    first, _ = paid_bill(app, client, make, key)
    second, _ = paid_bill(app, client, make, key, order_no="MZ002")
    issue_in_context(app, invoices, first)
    issue_in_context(app, invoices, second)

    def reverse_in_context():
        with app.app_context():
            invoice = invoices.reverse(db.session.get(Bill, first), now())
            db.session.commit()
            return invoice.status, invoice.reversal_code, invoice.reversal_number

    results = race([reverse_in_context] * 8)
    with app.app_context():
        invoice = invoices.invoice_for_bill(first)
        assert set(results) == {("reversed", invoice.code, "0000000003")}
        assert invoice.number == "0000000001" and invoice.reversed_at is not None
        assert invoices.reverse(db.session.get(Bill, first), now()).reversal_number == "0000000003"
        db.session.commit()
        assert counter(invoices, invoice.code) == 3
        assert invoices.invoice_for_bill(second).status == "issued"
        assert invoices.reverse(Bill(id="bil_without_receipt", hospital_id=invoice.hospital_id), now()) is None


def test_render_matches_the_schema_with_local_times(app, client, make, invoices):
    bill_id, name = paid_bill(app, client, make, hospital_key(app))
    issue_in_context(app, invoices, bill_id)
    with app.app_context():
        issued = invoices.render(invoices.invoice_for_bill(bill_id))
        assert issued["issued_at"].endswith("+08:00") and issued["reversed_at"] is None
        assert issued["reversal"] is None and issued["payer"] == mask_name(name) and issued["items"] == ITEMS
        assert (issued["bill_id"], issued["status"], issued["total_fen"], issued["self_pay_fen"]) == (
            bill_id, "issued", 5100, 3100)
        invoice = invoices.reverse(db.session.get(Bill, bill_id), now())
        db.session.commit()
        rendered = invoices.render(invoice)
    assert rendered["status"] == "reversed" and rendered["reversed_at"].endswith("+08:00")
    assert rendered["reversal"] == {"code": rendered["code"], "number": "0000000002"}
    schema = invoices.InvoiceOut()
    assert set(schema.fields) == set(rendered) and schema.dump(rendered) == rendered
    assert schema.dump(issued) == issued and schema.validate(rendered) == {}
