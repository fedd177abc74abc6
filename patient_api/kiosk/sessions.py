"""A kiosk session serves one patient, identified by a card read, on the kiosk that read the card."""
from flask import current_app, g

from ..accounts import cards
from ..accounts.identity import InvalidIdNumber, parse_resident_id
from ..accounts.people import from_hospital, patient_by_id_number
from ..common import audit, auth
from ..errors import Forbidden, Invalid, NotFound, Unauthorized
from ..extensions import db


def identify(body):
    """The patient behind an ID card read (created on first use; the chip's name is the legal name) or an insurance
    card."""
    try:
        resident = parse_resident_id(body.get("id_number") or body.get("ssn"))
    except InvalidIdNumber as exc:
        field = "id_number" if body["method"] == "id_card" else "ssn"
        raise Invalid(str(exc), errors={field: [str(exc)]}) from None
    patient = patient_by_id_number(resident.number)
    if body["method"] == "insurance_card":  # 社会保障号码 is the ID number; the card carries no name to enrol with
        if patient is None:
            raise NotFound("未找到建档信息，请先刷身份证建档", code="patient_not_found")
        if not cards.belongs_to(body["card_number"], patient.id_number_index):
            # Knowing someone's ID number is not enough: the card must be the one the city holds for them.
            audit.record("kiosk", g.kiosk.id, "kiosk.card_refused", patient_id=patient.id,
                         card=cards.mask_card(body["card_number"]))
            db.session.commit()  # the refusal is kept although the answer rolls the request back
            raise Forbidden("医保卡信息无法核验，请使用身份证", code="card_not_recognised")
        return patient
    return from_hospital(resident, body["name"], source="card")  # the chip's name is the legal name


def open_session(device, body):
    """Start a session for the card's patient on this kiosk; returns (token, idle seconds, patient)."""
    patient = identify(body)
    idle = current_app.config["KIOSK_SESSION_IDLE_SECONDS"]
    token, _ = auth.issue_session("kiosk", f"{device.id}:{patient.id}:{body['method']}", idle=idle)
    card = cards.mask_card(body["card_number"]) if body["method"] == "insurance_card" else None
    audit.record("kiosk", device.id, "kiosk.session_open", patient_id=patient.id, method=body["method"], card=card)
    return token, idle, patient


def current_session():
    """(patient id, card read method) of the session; 401 without a live session opened on this same kiosk."""
    token = auth.bearer_token()
    if not token:
        raise Unauthorized("请先刷卡", code="kiosk_session_required")
    device_id, patient_id, method = (auth.resolve_session(token, "kiosk").split(":") + [""])[:3]
    if device_id != g.kiosk.id:  # a token lifted from one kiosk is useless on another
        raise Unauthorized("登录已过期，请重新刷卡", code="session_expired")
    return patient_id, method


def current_patient_id():
    """The session's patient; 401 without a live session opened on this same kiosk."""
    return current_session()[0]


def end():
    """The card was removed: the session ends now."""
    current_patient_id()
    auth.end_session(auth.bearer_token())
