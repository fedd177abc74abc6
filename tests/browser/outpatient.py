"""Seeding for the outpatient screens' browser tests (预约挂号, 我的预约, 门诊缴费): residents with a verified
就诊人, a sold-out schedule, a hospital's (HIS) bill — through the live service's API and CLI wherever they exist,
in-process on the same database only where no API can (a phone on file, an insured account, a new doctor)."""
import itertools
from datetime import timedelta

import requests
import sqlalchemy as sa

from patient_api.common.clock import today_local
from patient_api.extensions import db

from ..factories import chinese_name, resident_id
from .seed import sms_code

_people = itertools.count(801)
_orders = itertools.count(1)
_full_doctors = itertools.count(0)
FULL_NAMES = ("周晓满", "吴满月", "郑立满", "冯若满", "陈满仓", "褚满堂")
WEEKDAYS = "一二三四五六日"


def day_label(days_ahead):
    """How the app writes that day: 12月2日 周三."""
    day = today_local() + timedelta(days=days_ahead)
    return f"{day.month}月{day.day}日 周{WEEKDAYS[day.weekday()]}"


def add_patient(api, relation="self"):
    """A 就诊人 (claimed) added through the API; returns (id, name, id_number)."""
    n = next(_people)
    name, number = chinese_name(n), resident_id(n)
    answer = api.post(api.base + "/me/patients", json={"name": name, "id_number": number, "phone": "13800138000",
                                                       "relation": relation}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], name, number


def verify(app, live, api, patient_id, number):
    """实名认证 as a resident does it: a phone the hospitals hold for the person (put on file here as a hospital's
    push would, like tests/factories.py phone_on_file), the SMS code read from the sandbox's inbox (CLI)."""
    from patient_api.accounts import people
    from patient_api.common import crypto
    phone = f"139{int(number[-8:-1]):08d}"
    with app.app_context():
        people.record_phone(crypto.blind_index(number), phone, "test")
        db.session.commit()
    started = api.post(f"{api.base}/me/patients/{patient_id}/verification", json={"method": "sms"}, timeout=10)
    assert started.status_code == 202, started.text
    code = sms_code(live, phone)
    done = api.post(f"{api.base}/me/patients/{patient_id}/verification/confirm", json={"code": code}, timeout=10)
    assert done.status_code == 200 and done.json()["link_status"] == "verified", done.text
    return done.json()


def resident(app, live, openid, verified=True):
    """An account with one 就诊人 (本人), verified unless asked otherwise: (api, patient_id, name, id_number)."""
    api = live.api(openid)
    patient_id, name, number = add_patient(api)
    if verified:
        verify(app, live, api, patient_id, number)
    return api, patient_id, name, number


def sold_out_schedule(app, live, days_ahead=3):
    """A one-ticket 普通号 session of a new doctor at 泰安市中心医院 儿科, taken by someone else: (doctor name, id)."""
    from patient_api.directory.models import Department, Doctor, Hospital
    from patient_api.directory.schedules import create_schedule
    n = next(_people)
    doctor_name = FULL_NAMES[next(_full_doctors) % len(FULL_NAMES)]
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code="TAZXYY")).one()
        department = db.session.scalars(sa.select(Department).filter_by(hospital_id=hospital.id, code="EK")).one()
        doctor = Doctor(hospital_id=hospital.id, department_id=department.id, code=f"FULL{n}", name=doctor_name,
                        title="主治医师")
        db.session.add(doctor)
        db.session.flush()
        schedule = create_schedule(hospital, department, doctor, today_local() + timedelta(days=days_ahead),
                                   "afternoon", "普通号", 1200, 1)
        db.session.commit()
        schedule_id = schedule.id
    holder = live.api(f"holder-{n}")
    patient_id, _name, _number = add_patient(holder)
    taken = holder.post(holder.base + "/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                        timeout=10)
    assert taken.status_code == 201, taken.text
    return doctor_name, schedule_id


def his_bill(app, live, number, name, insured=True):
    """An outpatient bill 泰安市中心医院 pushes for that person (its integration API); returns its id."""
    key = live.flask("hospital", "issue-key", "TAZXYY").strip().splitlines()[-1]
    if insured:
        from patient_api.accounts import people
        from patient_api.billing.presettlement import InsuredAccount
        with app.app_context():
            patient = people.patient_by_id_number(number)
            if db.session.get(InsuredAccount, patient.id) is None:
                db.session.add(InsuredAccount(patient_id=patient.id, insurance_type="employee",
                                              account_balance_fen=500))
                db.session.commit()
    body = {"order_no": f"MZ-H5-{next(_orders)}-{number[-4:]}", "patient": {"id_number": number, "name": name},
            "department": "内科", "doctor": "王建国", "insurance_type": "employee" if insured else "self_pay",
            "items": [{"code": "Y001", "name": "阿莫西林胶囊", "category": "西药", "quantity": 2,
                       "unit_price_fen": 1550, "insurance_class": "甲"},
                      {"code": "J001", "name": "血常规", "category": "检验", "quantity": 1,
                       "unit_price_fen": 2000, "insurance_class": "乙"}]}
    answer = requests.post(live.url + "/api/v1/integration/bills", json=body,
                           headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]
