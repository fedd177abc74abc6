"""Seeding the nurse station and kiosk tests through the live service: CLI, HIS integration API, residents."""
import itertools
import re
import time
from datetime import date, timedelta

from ..factories import chinese_name, resident_id

PASSWORD = "ward-A-2026-secure"
HOSPITAL = "TAZXYY"  # a demo hospital (demo load): schedules for the kiosk, HIS for the wards
_seq = itertools.count(7301, 2)


def person():
    """A fresh resident: {"id_number", "name"}."""
    n = next(_seq)
    return {"id_number": resident_id(n), "name": chinese_name(n)}


class Ward:
    """One hospital as HIS, its staff and the patients' families see it, driven over HTTP and the CLI."""

    def __init__(self, live, tag):
        self.live, self.tag = live, tag
        self.his = live.api_session(live.flask("hospital", "issue-key", HOSPITAL).strip().splitlines()[-1])

    def staff(self, username, role, wards):
        """A staff account through the CLI; returns a requests session signed in as it."""
        self.live.flask("staff", "create", "--hospital", HOSPITAL, "--username", username, "--password", PASSWORD,
                        "--role", role, "--wards", wards)
        session = self.live.api_session()
        answer = session.post(session.base + "/staff/auth/login", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return session

    def admit(self, patient, ward, bed, days_ago=3):
        number = f"ZY{self.tag}{bed}"
        body = {"admission_no": number, "patient": patient, "ward_code": ward, "ward_name": f"{ward}病区",
                "department": "心血管内科", "bed_no": bed, "insurance_type": "employee",
                "admitted_at": f"{date.today() - timedelta(days=days_ago)}T09:30:00+08:00"}
        answer = self.his.post(self.his.base + "/integration/admissions", json=body)
        assert answer.status_code in (200, 201), answer.text
        return number, answer.json()["id"]

    def charges(self, number, days=3, drug_units=2):
        items = []
        for back in range(days, -1, -1):
            day = date.today() - timedelta(days=back)
            tag = f"{number}-{day:%m%d}"
            items += [_line(f"{tag}-1", day, "CW001", "床位费（三人间）", "床位费", 1, 4500, "甲"),
                      _line(f"{tag}-2", day, "HL001", "一级护理", "护理费", 1, 3600, "甲"),
                      _line(f"{tag}-3", day, "YP101", "注射用头孢曲松钠", "药品", drug_units, 8860, "乙"),
                      _line(f"{tag}-4", day, "QT901", "陪护床", "其他", 1, 2000, "丙")]
        answer = self.his.post(self.his.base + f"/integration/admissions/{number}/charges", json={"items": items})
        assert answer.status_code == 200, answer.text

    def signal(self, number, what):
        answer = self.his.post(self.his.base + f"/integration/admissions/{number}/{what}", json={})
        assert answer.status_code == 200, answer.text


def _line(source_id, day, code, name, category, quantity, unit_price_fen, insurance_class):
    return {"source_id": source_id, "date": day.isoformat(), "code": code, "name": name, "category": category,
            "quantity": quantity, "unit_price_fen": unit_price_fen, "insurance_class": insurance_class}


def verified_family(live, openid, patient, binding_code):
    """A WeChat account with `patient` as 本人, verified with a binding code (kiosk or counter)."""
    api = live.api(openid)
    added = api.post(api.base + "/me/patients", json={**patient, "phone": "13800138000", "relation": "self"})
    assert added.status_code == 201, added.text
    patient_id = added.json()["id"]
    done = api.post(api.base + f"/me/patients/{patient_id}/verification/confirm", json={"binding_code": binding_code})
    assert done.status_code == 200, done.text
    return api, patient_id


def pay_in_sandbox(api, out_trade_no):
    """The family "pays" in the sandbox wallet; the worker then delivers WeChat's notification."""
    answer = api.post(api.base + f"/sandbox/wechatpay/orders/{out_trade_no}/pay")
    assert answer.status_code == 200, answer.text


def wait_for(check, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def sms_code(live, phone, timeout=30):
    """The last 实名认证 code the sandbox SMS provider 'sent' to that phone. The message shows in the inbox once
    delivered, by `sms deliver` or by the worker's own run (which may hold it while this asks): ask again, bounded."""
    def code():
        live.flask("sms", "deliver")
        codes = re.findall(r"验证码为(\d{6})", live.flask("sms", "inbox", phone))
        return codes[-1] if codes else None
    return wait_for(code, timeout, f"a verification SMS to {phone[:3]}****{phone[-4:]}")
