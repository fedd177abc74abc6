"""Helpers for 双向转诊 tests: a township clinic and two city hospitals with referrers, a registered patient with
reports of the clinic, a city-hospital schedule keeping tickets for referrals."""
import itertools
import json
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.common.clock import now
from patient_api.common.outbox import OutboxMessage
from patient_api.directory.models import Hospital, Schedule
from patient_api.extensions import db
from patient_api.referrals.models import Referral, ReferralEvent, ReferralReport
from patient_api.results.models import Report

from .factories import chinese_name, resident_id
from .pools import PASSWORD, pooled_schedule

API = "/api/v1"
_seq = itertools.count(300)
CLINIC, CLINIC2, CITY, CITY2 = "RC1", "RC2", "RH1", "RH2"
LEVELS = {CLINIC: "一级", CLINIC2: "一级", CITY: "三级甲等", CITY2: "二级甲等"}
NAMES = {CLINIC: "岱岳区范镇卫生院", CLINIC2: "泰山区上高社区卫生服务中心", CITY: "泰安市中心医院",
         CITY2: "泰安市第二人民医院"}
KEPT = {"referral": {"share": 0.2, "release_hours_before": 2}}
CONSENT = {"by": "patient", "method": "signed"}


def hospital(app, code):
    """The hospital of that code (created with its level and name); its id."""
    with app.app_context():
        row = db.session.scalars(sa.select(Hospital).filter_by(code=code)).first()
        if row is None:
            row = Hospital(code=code, name=NAMES.get(code, f"医院{code}"), level=LEVELS.get(code, "三级甲等"),
                           address="泰山区龙潭路29号")
            db.session.add(row)
            db.session.commit()
        return row.id


def staff(app, client, code, role="referrer", name="王医生"):
    """A staff member of hospital `code` made through the CLI (with a name) and signed in: Authorization headers."""
    hospital(app, code)
    username = f"ref{next(_seq)}"
    args = ["staff", "create", "--hospital", code, "--username", username, "--password", PASSWORD, "--role", role]
    result = app.test_cli_runner().invoke(args=args + (["--name", name] if name else []))
    assert result.exit_code == 0, result.output
    response = client.post(f"{API}/staff/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


class World:
    """Clinic RC1 and hospital RH1 (each with a referrer), a verified resident, two reports of the clinic and one of
    the hospital, an RH1 schedule keeping 2 of 10 tickets for referrals."""

    def __init__(self, app, client, make, capacity=10, verified=True):
        self.app, self.client, self.make = app, client, make
        for code in (CLINIC, CITY, CITY2, CLINIC2):
            hospital(app, code)
        self.clinic = staff(app, client, CLINIC, name="李春梅")
        self.city = staff(app, client, CITY, name="张志强")
        self.schedule_id = pooled_schedule(app, KEPT, capacity=capacity, hospital_code=CITY, days_ahead=3)
        with app.app_context():
            self.department_id = db.session.get(Schedule, self.schedule_id).department_id
        self.headers, self.patient_id, self.id_number = self.resident(verified)
        self.reports = [self.report(CLINIC, "血常规"), self.report(CLINIC, "心电图")]
        self.city_report = self.report(CITY, "冠脉CTA")

    def resident(self, verified=True):
        """(headers, patient_id, id_number) of a new account with one patient."""
        n = next(_seq)
        headers = self.make.login()
        id_number = resident_id(n)
        patient_id = self.make.patient(headers, n, id_number=id_number, name=chinese_name(n))
        if verified:
            self.make.verify(headers, patient_id)
        return headers, patient_id, id_number

    def report(self, code, title, patient_id=None, **fields):
        """A report of hospital `code` for the patient; its id."""
        with self.app.app_context():
            patient = db.session.get(Patient, patient_id or self.patient_id)
            row = Report(person_index=patient.id_number_index, hospital_id=hospital(self.app, code),
                         source_id=f"R{next(_seq)}", source_format="fhir", kind="lab", title=title, status="final",
                         issued_at=now() - timedelta(days=1), content_hash="0" * 64, **fields)
            db.session.add(row)
            db.session.commit()
            return row.id

    def hospital_id(self, code):
        return hospital(self.app, code)

    def up(self, **changes):
        """An up-referral body from the clinic to RH1's department, booking the kept ticket."""
        body = {"direction": "up", "id_number": self.id_number, "to_hospital_id": self.hospital_id(CITY),
                "to_department_id": self.department_id, "urgency": "urgent", "reason": "胸痛待查，需冠脉评估",
                "diagnosis": "不稳定型心绞痛？", "summary": "反复胸闷3天，心电图ST段压低", "report_ids": self.reports,
                "consent": CONSENT, "schedule_id": self.schedule_id}
        body.update(changes)
        return {key: value for key, value in body.items() if value is not None}

    def down(self, to=CLINIC, **changes):
        """A down-referral body from RH1 back to a clinic."""
        body = {"direction": "down", "id_number": self.id_number, "to_hospital_id": self.hospital_id(to),
                "reason": "病情稳定，转回基层康复", "diagnosis": "冠心病 PCI术后",
                "summary": "支架置入术后第5天，恢复良好", "plan": "阿司匹林+氯吡格雷双抗12个月，1个月后复查",
                "followup": {"kind": "blood_pressure", "every_days": 14},
                "report_ids": [self.city_report], "consent": CONSENT}
        body.update(changes)
        return {key: value for key, value in body.items() if value is not None}

    def send(self, body, headers=None, expect=201, **kwargs):
        response = self.client.post(f"{API}/staff/referrals", json=body, headers=headers or self.clinic, **kwargs)
        assert response.status_code == expect, response.json
        return response.json

    def step(self, headers, referral_id, step, body=None, expect=200):
        kwargs = {"json": body} if body is not None else {}
        response = self.client.post(f"{API}/staff/referrals/{referral_id}/{step}", headers=headers, **kwargs)
        assert response.status_code == expect, response.json
        return response.json


def counts(app):
    """(referrals, history rows, shared-report rows) stored."""
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (Referral, ReferralEvent, ReferralReport))


def told(app, event):
    """[(account id, payload)] of WeChat messages queued with that event."""
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "wechat_message",
                                                                 OutboxMessage.event == event)
                                  .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
        return [(row.destination, json.loads(row.payload)) for row in rows]
