"""Test factories: create_thing(**params) with sensible defaults."""
import itertools
from datetime import timedelta

import redis as redis_lib
from stdnum.cn import ric

from patient_api.common.clock import local_dt, now, today_local
from patient_api.directory.models import Department, Doctor, Hospital
from patient_api.directory.schedules import create_schedule
from patient_api.extensions import db

_seq = itertools.count(1)
SURNAMES = "王李张刘陈杨赵黄周吴"
DIGITS = "零一二三四五六七八九"


def resident_id(n=None, region="370902", born="19860101"):
    """A valid 18-digit resident ID, unique per n."""
    n = next(_seq) if n is None else n
    body = f"{region}{born}{n % 1000:03d}"
    if n >= 1000:  # vary the birth date to keep numbers unique beyond 999
        year = 1986 + (n // 1000) % 19
        body = f"{region}{year}0101{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def chinese_name(n):
    """A two-to-five character Chinese name, unique per n."""
    return SURNAMES[n % 10] + "".join(DIGITS[int(d)] for d in str(n))


def day_start(day):
    """Midnight of that local day."""
    from datetime import time
    return local_dt(day, time(0, 0))


class Factory:
    """Builds rows through the real services and endpoints."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def login(self, openid=None):
        """Dev-login; returns Authorization headers."""
        openid = openid or f"openid-{next(_seq)}"
        response = self.client.post("/api/v1/auth/dev-login", json={"openid": openid})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['token']}"}

    def patient(self, headers, n=None, **fields):
        """Add a 就诊人 through the API; returns its id."""
        n = next(_seq) if n is None else n
        body = {"name": chinese_name(n), "id_number": resident_id(n), "phone": "13800138000", "relation": "self"}
        body.update(fields)
        response = self.client.post("/api/v1/me/patients", json=body, headers=headers)
        assert response.status_code == 201, response.json
        return response.json["id"]

    def resident(self, verified=False):
        """A signed-in account with one patient (its link verified if asked): (headers, patient_id)."""
        headers = self.login()
        patient_id = self.patient(headers)
        if verified:
            self.verify(headers, patient_id)
        return headers, patient_id

    def phone_on_file(self, patient_id, phone=None):
        """A mobile a hospital holds for the patient (as FHIR/HL7/HIS would send); returns it."""
        from patient_api.accounts import people
        from patient_api.accounts.models import Patient
        phone = phone or f"139{next(_seq) % 100_000_000:08d}"
        with self.app.app_context():
            people.record_phone(db.session.get(Patient, patient_id).id_number_index, phone, "test")
            db.session.commit()
        return phone

    def sms_code(self, phone):
        """The last code the sandbox SMS provider sent to that phone."""
        import re

        from patient_api import sms
        with self.app.app_context():
            sms.deliver()
            texts = [row.text for row in sms.inbox(phone)]
        assert texts, f"no SMS to {phone[:3]}****"
        return re.search(r"验证码为(\d{6})", texts[-1]).group(1)

    def verify(self, headers, patient_id, phone=None):
        """Verify the account's link by SMS code to a phone on file, through the API; returns the Patient body."""
        phone = phone or self.phone_on_file(patient_id)
        started = self.client.post(f"/api/v1/me/patients/{patient_id}/verification", json={"method": "sms"},
                                   headers=headers)
        assert started.status_code == 202, started.json
        done = self.client.post(f"/api/v1/me/patients/{patient_id}/verification/confirm",
                                json={"code": self.sms_code(phone)}, headers=headers)
        assert done.status_code == 200, done.json
        return done.json

    def schedule(self, fee_fen=1200, capacity=10, days_ahead=1, period="morning", released=True,
                 hospital_code="H1", department_code="NK", stopped=False):
        """A schedule (released by default) with its tickets; returns its id."""
        with self.app.app_context():
            hospital = db.session.query(Hospital).filter_by(code=hospital_code).first() or Hospital(
                code=hospital_code, name=f"测试医院{hospital_code}", level="三级甲等")
            db.session.add(hospital)
            db.session.flush()
            department = db.session.query(Department).filter_by(hospital_id=hospital.id, code=department_code).first() \
                or Department(hospital_id=hospital.id, code=department_code, name="内科")
            db.session.add(department)
            db.session.flush()
            doctor = Doctor(hospital_id=hospital.id, department_id=department.id, code=f"D{next(_seq)}",
                            name="李医生", title="主治医师")
            db.session.add(doctor)
            db.session.flush()
            day = today_local() + timedelta(days=days_ahead)
            release_at = day_start(day) - timedelta(days=8) if released else now() + timedelta(days=1)
            schedule = create_schedule(hospital, department, doctor, day,
                                       period, "普通号", fee_fen, capacity, release_at=release_at)
            schedule.stopped = stopped
            db.session.commit()
            return schedule.id


class DeadRedis:
    """A Redis whose every command fails, like a lost server."""

    def __getattr__(self, name):
        def fail(*_a, **_k):
            raise redis_lib.ConnectionError("redis is down")
        return fail


def hospital_key(app, code="H1"):
    """Issue an integration key through the CLI, as an operator would; returns Authorization headers."""
    from patient_api.directory.models import Hospital
    with app.app_context():
        if not db.session.query(Hospital).filter_by(code=code).first():
            db.session.add(Hospital(code=code, name=f"测试医院{code}", level="三级甲等"))
            db.session.commit()
    result = app.test_cli_runner().invoke(args=["hospital", "issue-key", code])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def freeze_rate_window(monkeypatch):
    """Pin the rate limiter's clock mid-window, so a test's burst never straddles a window boundary."""
    import time as time_module

    from patient_api.common import ratelimit
    pinned = (time_module.time() // 60) * 60 + 5
    monkeypatch.setattr(ratelimit, "clock", lambda: pinned)
