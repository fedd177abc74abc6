"""The resident's side of an order: request a visit, cancel it, rate it and complain afterwards."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts import links
from ..accounts.models import Patient
from ..common import crypto
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..inpatient.models import Admission
from ..results import rules as result_rules
from ..results.models import Report
from . import catalogue, eligibility, fees
from .access import locked, resident_order
from .models import CANCELLABLE, OPEN, HomecareOrder
from .notices import alert, tell_dispatchers, tell_family, tell_staff

MAX_DAYS_AHEAD = 30
WINDOW_MINUTES = (30, 12 * 60)  # shortest and longest preferred window


def _window(body, instant):
    """The preferred window must lie ahead (within 30 days) and last between half an hour and 12 hours."""
    start, end = body["window_start"], body["window_end"]
    if start <= instant:
        raise Invalid("上门时间须晚于当前时间", code="invalid_window", errors={"window_start": ["须晚于当前时间"]})
    if start > instant + timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid(f"只能预约{MAX_DAYS_AHEAD}天内的上门服务", code="invalid_window",
                      errors={"window_start": [f"须在{MAX_DAYS_AHEAD}天内"]})
    minutes = (end - start).total_seconds() / 60
    if not WINDOW_MINUTES[0] <= minutes <= WINDOW_MINUTES[1]:
        raise Invalid("期望上门时段应在30分钟到12小时之间", code="invalid_window",
                      errors={"window_end": ["须晚于开始时间30分钟至12小时"]})


def _shared(patient, shared):
    """(kind, id) of a stay or visible report of this patient, shared with consent; 404 for anything else."""
    if shared is None:
        return None, None
    if not shared["consent"]:
        raise Invalid("分享住院记录或报告须先同意授权护士查看", code="consent_required",
                      errors={"shared_record": {"consent": ["须同意授权"]}})
    missing = NotFound("未找到要分享的住院记录或报告", code="shared_record_not_found")
    if shared["kind"] == "admission":
        admission = db.session.get(Admission, shared["id"])
        if admission is None or admission.patient_id != patient.id:
            raise missing
    else:
        report = db.session.get(Report, shared["id"])
        if report is None or report.person_index != patient.id_number_index or not result_rules.visible(report):
            raise missing
    return shared["kind"], shared["id"]


def request_visit(account_id, body, instant=None):
    """A verified link asks a hospital for a home visit: window, area, eligibility and shared record checked."""
    instant = instant or now()
    patient = links.verified_link(account_id, body["patient_id"]).patient
    service = catalogue.published_one(body["service_id"])
    _window(body, instant)
    if not service.covers(body["area_code"]):
        raise Invalid("该服务暂未覆盖您所在的区县", code="area_not_covered",
                      errors={"area_code": ["不在服务范围内"]})
    band = body.get("distance_band")
    if band is not None and service.band(band) is None:
        raise Invalid("没有该距离档位", code="unknown_distance_band", errors={"distance_band": ["没有该距离档位"]})
    eligibility.check(service, patient, body.get("mobility"), instant)
    shared_kind, shared_id = _shared(patient, body.get("shared_record"))
    lock_row(Patient, patient.id)  # two taps at once: the second sees the first order
    if db.session.scalar(sa.select(sa.func.count()).select_from(HomecareOrder).where(
            HomecareOrder.patient_id == patient.id, HomecareOrder.service_id == service.id,
            HomecareOrder.status.in_(OPEN))):
        raise Conflict("该就诊人已有进行中的同类护理申请", code="already_requested")
    order = HomecareOrder(
        hospital_id=service.hospital_id, service_id=service.id, patient_id=patient.id, account_id=account_id,
        service_fee_fen=service.service_fee_fen, distance_band=band,
        travel_fee_fen=service.band(band)["fee_fen"] if band else None,
        address_enc=crypto.encrypt(body["address"]), area_code=body["area_code"],
        window_start=body["window_start"], window_end=body["window_end"], condition=body["condition"],
        mobility=body.get("mobility"), contact_phone_enc=crypto.encrypt(body["contact_phone"]),
        shared_kind=shared_kind, shared_id=shared_id, share_consent=shared_kind is not None, created_at=instant,
        review_due_at=instant + timedelta(minutes=current_app.config["HOMECARE_REVIEW_MINUTES"]))
    db.session.add(order)
    db.session.flush()
    tell_dispatchers(order, "homecare.requested")
    return order



def cancel(account_id, order_id, instant=None):
    """Cancel before check-in: free until the deadline, then the fee is billed; 409 once the nurse is there."""
    instant = instant or now()
    order = locked(resident_order(account_id, order_id))
    if order.status in ("in_visit", "finished"):
        raise Conflict("护士已上门签到，订单不能取消", code="not_cancellable")
    if order.status not in CANCELLABLE:
        raise Conflict("该申请已结束，无需取消", code="order_closed")
    fee = fees.cancel_fee_fen(order, instant)
    nurse_told = order.nurse_id
    order.status, order.cancelled_at, order.cancel_fee_fen = "cancelled", instant, fee
    if fee:
        fees.cancellation_bill(order, fee)
    db.session.flush()
    tell_family(order, "homecare.cancelled", cancel_fee_fen=fee, bill_id=order.bill_id)
    if nurse_told:
        tell_staff(nurse_told, "homecare.cancelled", order)
    return order


def _finished(account_id, order_id):
    order = locked(resident_order(account_id, order_id))
    if order.status != "finished":
        raise Conflict("服务完成后才能评价或投诉", code="not_finished")
    return order


def rate(account_id, order_id, score, comment, instant=None):
    """Rate a finished visit 1–5, once (409 already_rated)."""
    order = _finished(account_id, order_id)
    if order.rated_at is not None:
        raise Conflict("该订单已评价，不能重复评价", code="already_rated")
    order.rating_score, order.rating_comment, order.rated_at = score, comment, instant or now()
    return order


def complain(account_id, order_id, text, instant=None):
    """Complain about a finished visit, once (409 already_complained); the dispatchers are alerted."""
    instant = instant or now()
    order = _finished(account_id, order_id)
    if order.complained_at is not None:
        raise Conflict("该订单已投诉，请等待医院处理", code="already_complained")
    order.complaint, order.complained_at = text, instant
    db.session.flush()
    alert(order, "complaint", instant)
    return order
