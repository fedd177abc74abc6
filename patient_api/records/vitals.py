"""Measurements residents upload (blood pressure, glucose …): units normalised, implausible values refused."""
from datetime import timedelta

import sqlalchemy as sa

from ..accounts.models import Patient
from ..common import events
from ..common.clock import now
from ..errors import Invalid
from ..extensions import db
from .models import Vital

# kind → (the unit stored, {accepted unit: conversion to it}, plausible range in the stored unit, label)
UNITS = {
    "blood_pressure": ("mmHg", {"mmHg": None}, None, "血压"),
    "glucose": ("mmol/L", {"mmol/L": None, "mg/dL": lambda v: v / MG_PER_MMOL_GLUCOSE}, (1.0, 33.3), "血糖"),
    "heart_rate": ("bpm", {"bpm": None, "次/分": None}, (30, 220), "心率"),
    "weight": ("kg", {"kg": None, "斤": lambda v: v / 2}, (2, 300), "体重"),
    "temperature": ("°C", {"°C": None, "℃": None, "°F": lambda v: (v - 32) * 5 / 9}, (34, 43), "体温"),
}
# LOINC codes hospitals send for what residents measure, so an upload shows in the trend of that code (the
# record links each kind's first code): code → (kind, the stored field that holds its value).
TREND_CODES = {
    "2345-7": ("glucose", "value"), "2339-0": ("glucose", "value"), "14749-6": ("glucose", "value"),
    "15074-8": ("glucose", "value"), "41653-7": ("glucose", "value"), "14743-9": ("glucose", "value"),
    "8480-6": ("blood_pressure", "systolic"), "8462-4": ("blood_pressure", "diastolic"),
    "8867-4": ("heart_rate", "value"), "29463-7": ("weight", "value"), "3141-9": ("weight", "value"),
    "8310-5": ("temperature", "value"),
}
KIND_CODE = {}
for _code, (_kind, _field) in TREND_CODES.items():
    KIND_CODE.setdefault(_kind, _code)
MG_PER_MMOL_GLUCOSE = 18.0
SYSTOLIC, DIASTOLIC = (60, 260), (30, 160)
GLUCOSE_CONTEXTS = ("fasting", "after_meal", "random")
CLOCK_SLACK = timedelta(minutes=5)  # a phone's clock a little ahead is not a measurement from the future
MAX_AGE = timedelta(days=365)


def _refuse(field, message):
    raise Invalid(f"{message}，请核对后重新填写", code="implausible_vital", errors={field: [message]})


def _within(field, value, bounds, unit):
    low, high = bounds
    if not low <= value <= high:
        _refuse(field, f"应在 {low:g}–{high:g} {unit} 之间")


def normalise(body, instant=None):
    """The measurement in stored units, or 422 naming the field that is missing, out of range or inconsistent."""
    instant = instant or now()
    kind = body["kind"]
    unit, accepted, bounds, _label = UNITS[kind]
    given_unit = body.get("unit") or unit
    if given_unit not in accepted:
        _refuse("unit", f"单位应为 {'、'.join(accepted)} 之一")
    measured_at = body.get("measured_at") or instant
    if measured_at > instant + CLOCK_SLACK:
        _refuse("measured_at", "测量时间不能晚于现在")
    if measured_at < instant - MAX_AGE:
        _refuse("measured_at", "只能录入一年以内的测量")
    row = {"kind": kind, "unit": unit, "measured_at": measured_at, "systolic": None, "diastolic": None,
           "value": None, "context": None}
    if kind == "blood_pressure":
        for field, limits in (("systolic", SYSTOLIC), ("diastolic", DIASTOLIC)):
            if body.get(field) is None:
                _refuse(field, "血压需填写收缩压和舒张压")
            _within(field, body[field], limits, unit)
            row[field] = body[field]
        if row["systolic"] <= row["diastolic"]:
            _refuse("diastolic", "舒张压应低于收缩压")
        if body.get("value") is not None:
            _refuse("value", "血压请填写 systolic 和 diastolic")
    else:
        for field in ("systolic", "diastolic"):
            if body.get(field) is not None:
                _refuse(field, "仅血压需要填写此项")
        if body.get("value") is None:
            _refuse("value", "请填写测量值")
        convert = accepted[given_unit]
        value = convert(body["value"]) if convert else body["value"]
        _within("value", value, bounds, unit)
        row["value"] = round(value, 2)
    if kind == "glucose":
        row["context"] = body.get("context") or "random"
    elif body.get("context") is not None:
        _refuse("context", "仅血糖需要填写测量时机")
    return row


def add(patient, account_id, body, instant=None):
    """Store a plausible measurement for the patient, uploaded by that account; `vital.recorded` tells who cares (a
    family-doctor team's follow-up waiting for this reading)."""
    instant = instant or now()
    vital = Vital(patient_id=patient.id, recorded_by=account_id, created_at=instant, **normalise(body, instant))
    db.session.add(vital)
    db.session.flush()
    events.publish("vital.recorded", vital=vital, instant=instant)
    return vital


def query(patient, kind=None):
    """The patient's uploads (of one kind), for paging newest first."""
    stmt = sa.select(Vital).where(Vital.patient_id == patient.id)
    return stmt.where(Vital.kind == kind) if kind else stmt


def trend_points(person_index, code, limit):
    """Uploads of the person (by any of their accounts) that are values of this code, newest `limit`, oldest first."""
    kind, field = TREND_CODES.get(code, (None, None))
    if kind is None:
        return []
    rows = db.session.scalars(
        sa.select(Vital).join(Patient, Patient.id == Vital.patient_id)
        .where(Patient.id_number_index == person_index, Vital.kind == kind)
        .order_by(Vital.measured_at.desc(), Vital.id.desc()).limit(limit)).all()
    label = UNITS[kind][3]
    if kind == "blood_pressure":
        label = "收缩压" if field == "systolic" else "舒张压"
    return [{"source": "resident", "observed_at": v.measured_at, "code": code, "name": label,
             "value": f"{getattr(v, field):g}", "value_num": float(getattr(v, field)), "unit": v.unit,
             "ref_low": None, "ref_high": None, "reference_range": None, "flag": None, "critical": False,
             "hospital_id": None, "hospital_name": None, "report_id": None, "context": v.context}
            for v in reversed(rows)]


def latest(patient):
    """The newest upload of each kind."""
    found = []
    for kind in UNITS:
        vital = db.session.scalars(query(patient, kind).order_by(Vital.measured_at.desc(), Vital.id.desc())
                                   .limit(1)).first()
        if vital is not None:
            found.append(vital)
    return found
