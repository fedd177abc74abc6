"""Helpers for inpatient tests: a hospital with HIS key, staff sign-in, admissions, charges, paid deposits."""
import itertools
import time
from datetime import timedelta

from patient_api.billing import jobs
from patient_api.billing.gateway import pay_gateway
from patient_api.common.clock import today_local
from patient_api.extensions import db

from .factories import chinese_name, hospital_key, resident_id

NOTIFY = "/api/v1/payments/wechatpay/notify"
PASSWORD = "ward-A-2026-secure"
_seq = itertools.count(5000)


class Hospital:
    """One hospital as HIS, its staff and its residents see it."""

    def __init__(self, app, client, make, code="H1"):
        self.app, self.client, self.make, self.code = app, client, make, code
        self.his = hospital_key(app, code)

    def resident(self, verified=True):
        """A signed-in account with one patient, verified by SMS unless asked not to:
        (headers, patient_id, {"id_number", "name"})."""
        n = next(_seq)
        headers = self.make.login()
        patient_id = self.make.patient(headers, n)
        if verified:
            self.make.verify(headers, patient_id)
        return headers, patient_id, {"id_number": resident_id(n), "name": chinese_name(n)}

    def staff(self, wards="W1", role="nurse", username=None):
        """Create a staff account through the CLI and sign in; returns Authorization headers."""
        username = username or f"staff{next(_seq)}"
        result = self.app.test_cli_runner().invoke(args=[
            "staff", "create", "--hospital", self.code, "--username", username, "--password", PASSWORD,
            "--role", role, "--wards", wards])
        assert result.exit_code == 0, result.output
        response = self.client.post("/api/v1/staff/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['token']}"}

    def admit(self, patient, admission_no=None, ward="W1", bed="12", days_ago=3, insurance_type="employee",
              expect=201):
        """Push an admission from HIS; returns the response body."""
        body = {"admission_no": admission_no or f"ZY{next(_seq)}", "patient": patient, "ward_code": ward,
                "ward_name": f"{ward}病区", "department": "心内科", "bed_no": bed, "insurance_type": insurance_type,
                "admitted_at": f"{today_local() - timedelta(days=days_ago)}T09:30:00+08:00"}
        response = self.client.post("/api/v1/integration/admissions", json=body, headers=self.his)
        assert response.status_code == expect, response.json
        return response.json

    def charges(self, admission_no, items, expect=200):
        """Push charge lines; returns the response."""
        response = self.client.post(f"/api/v1/integration/admissions/{admission_no}/charges",
                                    json={"items": items}, headers=self.his)
        assert response.status_code == expect, response.json
        return response

    def signal(self, admission_no, what, body=None):
        """orders-complete or discharge-order."""
        response = self.client.post(f"/api/v1/integration/admissions/{admission_no}/{what}", json=body or {},
                                    headers=self.his)
        assert response.status_code == 200, response.json
        return response.json

    def deposit(self, headers, admission_id, amount_fen, method="wechat_jsapi"):
        """Start a deposit top-up; returns the response."""
        return self.client.post(f"/api/v1/admissions/{admission_id}/deposits",
                                json={"amount_fen": amount_fen, "method": method}, headers=headers)

    def pay_at_wechat(self, out_trade_no):
        """The payer pays at WeChat; returns the signed notification (headers, body) without delivering it."""
        with self.app.app_context():
            _, sandbox = pay_gateway()
            return sandbox.simulate_payment(out_trade_no, None, time.time())

    def paid_deposit(self, headers, admission_id, amount_fen):
        """A deposit paid and notified; returns the deposit body."""
        response = self.deposit(headers, admission_id, amount_fen)
        assert response.status_code == 201, response.json
        wire = self.pay_at_wechat(response.json["payment"]["out_trade_no"])
        assert self.client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204
        return response.json

    def run_refunds(self):
        """The worker sends reserved refunds to the sandbox, which answers SUCCESS at once."""
        with self.app.app_context():
            return jobs.submit_refunds()


def line(source_id, day, code="YP001", name="阿莫西林胶囊", category="药品", quantity=2, unit_price_fen=1550,
         insurance_class="甲"):
    """One charge line as HIS sends it."""
    return {"source_id": source_id, "date": day.isoformat(), "code": code, "name": name, "category": category,
            "quantity": quantity, "unit_price_fen": unit_price_fen, "insurance_class": insurance_class}


def stay_lines(days=3, prefix="L"):
    """A realistic few days: bed, nursing, drugs (甲/乙), an exam and a 丙 item, per day."""
    lines = []
    for back in range(days, -1, -1):
        day = today_local() - timedelta(days=back)
        tag = f"{prefix}{day:%m%d}"
        lines += [
            line(f"{tag}-1", day, "CW001", "床位费（三人间）", "床位费", 1, 4500, "甲"),
            line(f"{tag}-2", day, "HL001", "一级护理", "护理费", 1, 3600, "甲"),
            line(f"{tag}-3", day, "YP101", "注射用头孢曲松钠", "药品", 2, 8860, "乙"),
            line(f"{tag}-4", day, "YP102", "氯化钠注射液", "药品", 3, 520, "甲"),
        ]
    lines.append(line(f"{prefix}-CT", today_local() - timedelta(days=days - 1), "JC201", "胸部CT平扫", "检查",
                      1, 24000, "乙"))
    lines.append(line(f"{prefix}-TJ", today_local() - timedelta(days=1), "QT901", "陪护床", "其他", 1, 2000, "丙"))
    return lines


def in_db(app, fn):
    """Run fn() in an app context and return its result."""
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.rollback()
