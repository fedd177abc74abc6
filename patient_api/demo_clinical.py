"""Demo clinical data for one person: results from three hospitals, an insured 诊间 bill and an inpatient stay.

The person is insured (城镇职工医保) with this year's outpatient deductible already met and a small personal
account, as the insurance platform would report it, so both bills pre-settle into fund + personal account +
self-pay; the stay has a procedure that takes its charges past the inpatient deductible.
"""
from datetime import timedelta

import sqlalchemy as sa

from .accounts import cards, people
from .billing import his as his_bills
from .billing.presettlement import InsuredAccount
from .common.clock import now, today_local
from .common.masking import mask_phone
from .directory.models import Doctor, Hospital
from .extensions import db
from .inpatient import his
from .results import store
from .results.inputs import ObservationIn, ReportIn
from .results.matching import index_for_id_number

BLOOD = [("6690-2", "白细胞计数", "10*9/L", 3.5, 9.5, 11.2), ("718-7", "血红蛋白", "g/L", 130, 175, 142),
         ("777-3", "血小板计数", "10*9/L", 125, 350, 231), ("2345-7", "葡萄糖", "mmol/L", 3.9, 6.1, 7.4)]
DAY_LINES = [("CW001", "床位费（三人间）", "床位费", 1, 4500, "甲"), ("HL001", "一级护理", "护理费", 1, 3600, "甲"),
             ("YP101", "注射用头孢曲松钠", "药品", 2, 8860, "乙"), ("YP102", "氯化钠注射液", "药品", 3, 520, "甲")]
# On the day of admission: the procedure that takes the stay past the inpatient deductible (起付线, 800 元 here).
PROCEDURE = ("SS301", "冠状动脉造影术", "手术费", 1, 50000, "甲")
# A 诊间 bill of the cardiology clinic: 甲 and 乙 drugs and tests, and one 丙 item the fund never pays.
CLINIC_LINES = [("JC101", "常规心电图检查", "检查", 1, 2500, "甲"), ("JY201", "血脂四项", "检验", 1, 6000, "甲"),
                ("YP201", "阿托伐他汀钙片", "药品", 2, 3580, "乙"), ("YP202", "硝酸甘油片", "药品", 1, 1200, "甲"),
                ("YP301", "辅酶Q10胶囊", "药品", 1, 6800, "丙")]
INSURED = {"insurance_type": "employee", "deductible_paid_fen": 60_000, "account_balance_fen": 10_000}


def _hospital(code):
    hospital = db.session.scalars(sa.select(Hospital).filter_by(code=code)).first()
    if hospital is None:
        raise LookupError("run `.venv/bin/flask --app wsgi demo load` first")
    return hospital


def _tag(person):
    """Source ids and the admission number carry the person (keyed hash), so several demo people can coexist."""
    return person[:10].upper()


def _reports(person):
    """A blood count (one value high), a chest CT and a discharge summary, from three hospitals."""
    at = now()
    tag = _tag(person)
    blood = ReportIn(source_id=f"DEMO-LAB-{tag}", source_format="fhir", kind="lab", title="血常规+血糖", status="final",
                     issued_at=at - timedelta(days=2), department="心血管内科",
                     items=[ObservationIn(source_id=f"DEMO-LAB-{tag}-{code}", code=code, code_system="http://loinc.org",
                                          name=name, value=f"{value:g}", value_num=value, unit=unit, ref_low=low,
                                          ref_high=high) for code, name, unit, low, high, value in BLOOD])
    ct = ReportIn(source_id=f"DEMO-CT-{tag}", source_format="fhir", kind="imaging", title="胸部CT平扫", status="final",
                  issued_at=at - timedelta(days=20), code="24627-2", findings="双肺纹理清晰，未见明显实变影。",
                  impression="胸部CT平扫未见明显异常。")
    summary = ReportIn(source_id=f"DEMO-DOC-{tag}", source_format="fhir", kind="inpatient", title="出院小结",
                       status="final", issued_at=at - timedelta(days=60),
                       body="入院诊断：社区获得性肺炎。经抗感染治疗后好转出院。出院医嘱：按时服药，一周后复查血常规。")
    return [store.save_report(_hospital(code), person, report)
            for code, report in (("TAZXYY", blood), ("TAZYY", ct), ("DYWSY", summary))]


def _stay(id_number, name, tag):
    """An open stay at 泰安市中心医院 with three days of charges (the patient must be registered)."""
    hospital = _hospital("TAZXYY")
    admission, _ = his.push_admission(hospital, {
        "admission_no": f"ZY-DEMO-{tag}", "patient": {"id_number": id_number, "name": name}, "ward_code": "XNK1",
        "ward_name": "心内科一病区", "department": "心血管内科", "bed_no": "12", "insurance_type": "employee",
        "admitted_at": now() - timedelta(days=2)})
    items = [{"source_id": f"DEMO-{tag}-{day:%m%d}-{n}", "charge_date": day, "code": code, "name": item,
              "category": kind, "quantity": quantity, "unit_price_fen": price, "insurance_class": klass}
             for back in (2, 1, 0) for day in [today_local() - timedelta(days=back)]
             for n, (code, item, kind, quantity, price, klass) in enumerate(DAY_LINES)]
    code, item, kind, quantity, price, klass = PROCEDURE
    items.append({"source_id": f"DEMO-{tag}-{code}", "charge_date": today_local() - timedelta(days=2), "code": code,
                  "name": item, "category": kind, "quantity": quantity, "unit_price_fen": price,
                  "insurance_class": klass})
    his.push_charges(hospital, admission.admission_no, items)
    return admission


def _clinic_bill(id_number, name, tag):
    """An unpaid, insured 诊间 bill of 泰安市中心医院's cardiology clinic, as its HIS pushes it."""
    hospital = _hospital("TAZXYY")
    doctor = db.session.scalars(sa.select(Doctor).filter_by(hospital_id=hospital.id, code="XXGNK01")).first()
    bill, _ = his_bills.push_bill(hospital, {
        "order_no": f"MZ-DEMO-{tag}", "patient": {"id_number": id_number, "name": name}, "department": "心血管内科",
        "doctor": doctor.name if doctor else None, "insurance_type": "employee",
        "items": [{"code": code, "name": item, "category": kind, "quantity": quantity, "unit_price_fen": price,
                   "insurance_class": klass} for code, item, kind, quantity, price, klass in CLINIC_LINES]})
    return bill


def _insured(patient_id):
    """The person's insurance state this year, as the platform would report it (reset on every run)."""
    account = db.session.get(InsuredAccount, patient_id) or InsuredAccount(patient_id=patient_id)
    for field, value in INSURED.items():
        setattr(account, field, value)
    db.session.add(account)


DEMO_PHONE = "13800138000"
DEMO_CARD = "SD0001234"


def load(id_number, name, phone=DEMO_PHONE):
    """Idempotent: results, a phone on file (to try 实名认证 by SMS) and a stay for the person; says what was done."""
    person = index_for_id_number(id_number)
    done = {"reports": _reports(person)}
    people.record_phone(person, phone, "demo", _hospital("TAZXYY").id)
    done["phone_on_file"] = mask_phone(phone)
    cards.record_card(person, DEMO_CARD, "demo")  # the kiosk's 读取医保卡 works with this card number
    done["insurance_card"] = cards.mask_card(DEMO_CARD)
    admission = _stay(id_number, name, _tag(person))  # the hospital's push registers the person if needed
    done["admission"] = admission.id
    done["outpatient_bill"] = _clinic_bill(id_number, name, _tag(person)).id
    _insured(admission.patient_id)
    db.session.commit()
    return done
