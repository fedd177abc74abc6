"""Helpers for 先诊疗后付费 tests: one hospital (HIS key, cashier), verified residents, bills on credit, WeChat's
side in the sandbox, and the invariants every credit test checks on the books."""
import itertools
import time

import sqlalchemy as sa

from patient_api.billing import ledger
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.ledger import LedgerEntry
from patient_api.billing.models import Bill, Payment
from patient_api.credit import consent
from patient_api.credit.models import UNPAID, CreditBill, CreditEnrolment, CreditSettlement
from patient_api.directory.models import Hospital
from patient_api.extensions import db

from .inpatient import PASSWORD
from .inpatient import Hospital as HospitalWorld

NOTIFY = "/api/v1/payments/wechatpay/notify"
_seq = itertools.count(1)


def credit_path(patient_id, tail=""):
    return f"/api/v1/me/patients/{patient_id}/credit{tail}"


class World(HospitalWorld):
    """A hospital with 先诊疗后付费: HIS pushes bills, residents enrol and settle, a cashier works the window."""

    def __init__(self, app, client, make, code="H1"):
        super().__init__(app, client, make, code)
        with app.app_context():
            self.hospital_id = db.session.scalars(sa.select(Hospital.id).filter_by(code=code)).one()

    def enrolled(self, city=False, expect=201):
        """A verified resident enrolled here (or city-wide): (headers, patient_id, person)."""
        headers, patient_id, person = self.resident()
        self.enrol(headers, patient_id, None if city else self.hospital_id, expect=expect)
        return headers, patient_id, person

    def enrol(self, headers, patient_id, hospital_id, expect=201, version=consent.VERSION):
        response = self.client.post(credit_path(patient_id, "/enrolments"), headers=headers,
                                    json={"hospital_id": hospital_id, "consent_version": version})
        assert response.status_code == expect, response.json
        return response.json

    def bill(self, person, total_fen=5100, order_no=None, insurance_type="self_pay", expect=201):
        """HIS pushes an outpatient bill of total_fen (two lines); returns the bill body."""
        first = total_fen // 2
        body = {"order_no": order_no or f"MZ{next(_seq):08d}", "patient": {"id_number": person["id_number"]},
                "department": "内科", "doctor": "王建国", "insurance_type": insurance_type,
                "items": [{"code": "Y001", "name": "阿莫西林胶囊", "category": "西药", "quantity": 1,
                           "unit_price_fen": first, "insurance_class": "甲"},
                          {"code": "J001", "name": "血常规", "category": "检验", "quantity": 1,
                           "unit_price_fen": total_fen - first, "insurance_class": "乙"}]}
        response = self.client.post("/api/v1/integration/bills", json=body, headers=self.his)
        assert response.status_code == expect, response.json
        return response.json

    def settle(self, headers, patient_id, expect=201):
        response = self.client.post(credit_path(patient_id, "/settlements"), headers=headers,
                                    json={"hospital_id": self.hospital_id})
        assert response.status_code == expect, response.json
        return response.json

    def notify(self, wire, expect=204):
        response = self.client.post(NOTIFY, data=wire[1], headers=wire[0])
        assert response.status_code == expect, response.json
        return response

    def pay_jsapi(self, out_trade_no):
        """The resident pays the JSAPI order in the wallet and WeChat's notification arrives."""
        wire = self.pay_at_wechat(out_trade_no)
        self.notify(wire)
        return wire

    def cashier(self, role="cashier"):
        return self.staff(role=role)

    def sign_contract(self, headers, patient_id):
        """开通无感支付 and sign it in the sandbox; the PAPAY.SIGN notification is delivered. Returns the contract."""
        opened = self.client.post(credit_path(patient_id, "/contract"), headers=headers)
        assert opened.status_code == 201, opened.json
        with self.app.app_context():
            _, sandbox = pay_gateway()
            wire = sandbox.simulate_contract_signing(opened.json["out_contract_code"], time.time())
        self.notify(wire)
        return opened.json

    def wallet(self, openid, balance_fen):
        with self.app.app_context():
            pay_gateway()[1].set_wallet(openid, balance_fen)


def check_books(app):
    """The invariants: every ledger transaction sums to 0; every bill's status is what its ledger says; per patient
    the resident's ledger debt on credit equals open credit; open credit ≤ limit per enrolment; a settlement bill
    is paid by at most one payment (others are overpayments, refunded)."""
    with app.app_context():
        unbalanced = db.session.execute(sa.select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
                                        .having(sa.func.sum(LedgerEntry.amount_fen) != 0)).all()
        assert unbalanced == []
        for bill in db.session.scalars(sa.select(Bill)):
            stored = "unpaid" if bill.status == "paying" else bill.status  # an order open is not money moved
            assert ledger.derived_status(bill.id) == stored, (bill.kind, bill.status)
        for patient_id in db.session.scalars(sa.select(CreditBill.patient_id).distinct()):
            open_fen = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditBill.amount_fen), 0)).where(
                CreditBill.patient_id == patient_id, CreditBill.status.in_(("open", "settling"))))
            on_credit = sa.select(CreditBill.bill_id).where(CreditBill.patient_id == patient_id,
                                                            CreditBill.status == "open")
            carriers = sa.select(CreditSettlement.bill_id).where(CreditSettlement.patient_id == patient_id,
                                                                 CreditSettlement.status.in_(UNPAID))
            debt = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.account == "resident",
                sa.or_(LedgerEntry.bill_id.in_(on_credit), LedgerEntry.bill_id.in_(carriers))))
            assert debt == open_fen, (patient_id, debt, open_fen)
        for row in db.session.scalars(sa.select(CreditEnrolment)):
            used = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditBill.amount_fen), 0)).where(
                CreditBill.enrolment_id == row.id, CreditBill.status.in_(("open", "settling"))))
            assert used <= row.limit_fen
        for settlement in db.session.scalars(sa.select(CreditSettlement)):
            kept = db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
                Payment.bill_id == settlement.bill_id, Payment.status == "paid", Payment.overpaid.is_(False)))
            assert kept == (1 if settlement.status == "paid" else 0), (settlement.id, settlement.status, kept)
        db.session.rollback()


__all__ = ["PASSWORD", "World", "check_books", "credit_path"]
