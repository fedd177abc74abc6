"""Orders as residents and staff read them: the address masked except for the assigned nurse in her window."""
import re

import sqlalchemy as sa

from ..accounts.links import verified_patient_ids
from ..accounts.models import Patient
from ..common.clock import now
from ..common.masking import mask_name, mask_phone
from ..common.paging import page
from ..extensions import db
from . import fees, refunds
from .access import address_open, audited
from .models import CANCELLABLE, HomecareOrder

# Keep the address up to its district (…区, …县 or …旗 within the first 12 characters), hide the street and number.
DISTRICT = re.compile(r"^[^0-9０-９]{1,12}?[区县旗]")
DIGIT = re.compile(r"[0-9０-９]")


def mask_address(address):
    """泰安市泰山区**** — never the street, building or room: without a district first, at most a third of it (up to
    6 characters) and nothing from its first digit on."""
    if not address:
        return address
    match = DISTRICT.match(address)
    if match:
        return match.group() + "****"
    return DIGIT.split(address[:min(6, len(address) // 3)])[0] + "****"


def _fees(order):
    used = order.consumables_used
    consumables = sum(line["quantity"] * line["unit_price_fen"] for line in used)
    return {"service_fee_fen": order.service_fee_fen, "travel_fee_fen": order.travel_fee_fen,
            "consumables_fen": consumables,
            "total_fen": order.service_fee_fen + (order.travel_fee_fen or 0) + consumables}


def _refund(row):
    return {"id": row.id, "amount_fen": row.amount_fen, "reason": row.reason, "status": row.status,
            "created_at": row.created_at, "succeeded_at": row.succeeded_at}


def render(order, staff=None, instant=None, reveal=False):
    """An order for its requester (staff None) or a staff member; `reveal`: the full address when allowed."""
    instant = instant or now()
    patient = db.session.get(Patient, order.patient_id)
    shown = reveal and address_open(order, staff, instant)
    if shown:
        audited(staff, "homecare.address_view", order)
    return {
        "id": order.id, "status": order.status, "hospital_id": order.hospital_id,
        "hospital_name": order.hospital.name, "service_id": order.service_id, "service_name": order.service.name,
        "service_code": order.service.code, "patient_id": order.patient_id, "patient_name": mask_name(patient.name),
        "address": order.address if shown else mask_address(order.address), "address_visible": shown,
        "area_code": order.area_code, "contact_phone": mask_phone(order.contact_phone),
        "window_start": order.window_start, "window_end": order.window_end, "condition": order.condition,
        "mobility": order.mobility, "distance_band": order.distance_band, **_fees(order),
        "consumables": order.consumables_used, "visit_notes": order.visit_notes,
        "shared_record": {"kind": order.shared_kind, "consent": order.share_consent} if order.shared_kind else None,
        "created_at": order.created_at, "review_due_at": order.review_due_at, "reviewed_at": order.reviewed_at,
        "decline_reason": order.decline_reason, "nurse_assigned": order.nurse_id is not None,
        "nurse_id": order.nurse_id if staff is not None else None,
        "nurse_accepted_at": order.nurse_accepted_at, "departed_at": order.departed_at,
        "checked_in_at": order.checked_in_at, "checked_out_at": order.checked_out_at,
        "check_in_location": ({"lat": order.check_in_lat, "lng": order.check_in_lng}
                              if staff is not None and order.check_in_lat is not None else None),
        "free_cancel_until": fees.free_cancel_until(order),
        "cancel_fee_now_fen": fees.cancel_fee_fen(order, instant) if order.status in CANCELLABLE else None,
        "cancelled_at": order.cancelled_at,
        "cancel_fee_fen": order.cancel_fee_fen, "lapsed_at": order.lapsed_at, "bill_id": order.bill_id,
        "paid_at": order.paid_at, "refunds": [_refund(row) for row in refunds.of_order(order)],
        "rating": ({"score": order.rating_score, "comment": order.rating_comment, "rated_at": order.rated_at}
                   if order.rated_at else None),
        "complaint": {"text": order.complaint, "at": order.complained_at} if order.complained_at else None,
    }


def listed(stmt, query, staff=None):
    """A newest-first page of orders (masked) and its paging fields."""
    if query.get("status"):
        stmt = stmt.where(HomecareOrder.status == query["status"])
    rows, paging = page(stmt, HomecareOrder.created_at, HomecareOrder.id, query)
    instant = now()
    return {"items": [render(row[0], staff, instant) for row in rows], **paging}


def for_account(account_id, query):
    """The orders this account requested, of the patients it still holds a verified link to."""
    return listed(sa.select(HomecareOrder).where(HomecareOrder.account_id == account_id,
                                                 HomecareOrder.patient_id.in_(verified_patient_ids(account_id))), query)


def for_staff(staff, query):
    """A nurse's assigned orders; a dispatcher's or admin's whole hospital."""
    stmt = sa.select(HomecareOrder).where(HomecareOrder.hospital_id == staff.hospital_id)
    if staff.role == "nurse":
        stmt = stmt.where(HomecareOrder.nurse_id == staff.id)
    return listed(stmt, query, staff)
