"""The staff side of an order: the dispatcher assigns a qualified nurse or declines; the nurse accepts, sets out,
checks in, records what was done and checks out (which issues the bill). Every step is audited."""
import json

from ..common.clock import now
from ..errors import Conflict, Invalid
from . import catalogue, fees
from .access import audited, locked, order_not_found
from .notices import tell_family, tell_staff


def _in(order, *statuses):
    """409 with a Chinese reason when the order is not in one of these states."""
    if order.status in statuses:
        return
    reasons = {"requested": "该申请尚待调度审核", "assigned": "护士尚未接单", "accepted": "护士尚未签到",
               "in_visit": "护士正在上门服务中", "finished": "服务已完成", "declined": "该申请已被拒绝",
               "lapsed": "该申请已超时失效", "cancelled": "该申请已取消"}
    raise Conflict(f"{reasons[order.status]}，不能执行该操作", code="invalid_order_state")


def _pending_review(order, instant):
    _in(order, "requested")
    if instant > order.review_due_at:  # the lapse job has not run yet: the answer is the same as after it
        raise Conflict("该申请已超过审核时限，已失效", code="request_lapsed")


def _qualified_nurse(staff, order, nurse_id):
    """A nurse of the staff member's hospital (404 nurse_not_found) qualified for the order's service (422)."""
    nurse = catalogue.hospital_nurse(staff.hospital_id, nurse_id)
    if not catalogue.qualified(nurse.id, order.service_id):
        raise Invalid("该护士没有该项服务的资质", code="nurse_not_qualified", errors={"nurse_id": ["没有该服务资质"]})
    return nurse


def _hers(nurse, order):
    """The order under its lock, still assigned to this nurse: a reassignment that committed while she tapped wins
    (she gets the same 404 as for any order not hers)."""
    order = locked(order)
    if order.nurse_id != nurse.id:
        raise order_not_found()
    return order


def assign(staff, order, nurse_id, band=None, instant=None):
    """Accept a request with a nurse qualified for the service; the distance band decides the travel fee."""
    instant = instant or now()
    order = locked(order)
    _pending_review(order, instant)
    nurse = _qualified_nurse(staff, order, nurse_id)
    band = band or order.distance_band
    if band is None:
        raise Invalid("请选择上门距离档位", code="distance_band_required", errors={"distance_band": ["必填"]})
    chosen = order.service.band(band)
    if chosen is None:
        raise Invalid("没有该距离档位", code="unknown_distance_band", errors={"distance_band": ["没有该距离档位"]})
    order.status, order.nurse_id, order.dispatcher_id, order.reviewed_at = "assigned", nurse.id, staff.id, instant
    order.distance_band, order.travel_fee_fen = band, chosen["fee_fen"]
    audited(staff, "homecare.assign", order, nurse_id=nurse.id, distance_band=band)
    tell_family(order, "homecare.accepted", window_start_at=order.window_start.isoformat(),
                travel_fee_fen=order.travel_fee_fen, service_fee_fen=order.service_fee_fen)
    tell_staff(nurse.id, "homecare.assigned", order)
    return order


def reassign(staff, order, nurse_id, reason, instant=None):
    """改派: move an assigned (or accepted) order to another qualified nurse before the visit starts. The old nurse
    loses it at once (list, detail, address: they follow nurse_id), the new one must accept it; both nurses, the
    family and the audit trail hear of it. 409 visit_started once checked in."""
    instant = instant or now()
    order = locked(order)
    if order.status in ("in_visit", "finished"):
        raise Conflict("护士已上门签到，不能改派", code="visit_started")
    _in(order, "assigned", "accepted")
    nurse = _qualified_nurse(staff, order, nurse_id)
    if nurse.id == order.nurse_id:
        raise Invalid("该订单已由这位护士负责，请选择其他护士", code="same_nurse",
                      errors={"nurse_id": ["请选择其他护士"]})
    previous = order.nurse_id
    order.status, order.nurse_id, order.dispatcher_id = "assigned", nurse.id, staff.id
    order.nurse_accepted_at = order.departed_at = None  # the new nurse accepts and sets out herself
    audited(staff, "homecare.reassign", order, from_nurse_id=previous, to_nurse_id=nurse.id, reason=reason)
    tell_staff(previous, "homecare.unassigned", order, reason=reason)
    tell_staff(nurse.id, "homecare.assigned", order, reassigned=True)
    tell_family(order, "homecare.reassigned", window_start_at=order.window_start.isoformat())
    return order


def decline(staff, order, reason, instant=None):
    """Decline a request with a reason the family reads."""
    instant = instant or now()
    order = locked(order)
    _pending_review(order, instant)
    order.status, order.dispatcher_id, order.reviewed_at, order.decline_reason = "declined", staff.id, instant, reason
    audited(staff, "homecare.decline", order)
    tell_family(order, "homecare.declined", reason=reason)
    return order


def accept(nurse, order, instant=None):
    """The assigned nurse takes the visit: from now on she reads the address."""
    order = _hers(nurse, order)
    _in(order, "assigned")
    order.status, order.nurse_accepted_at = "accepted", instant or now()
    audited(nurse, "homecare.nurse_accept", order)
    tell_family(order, "homecare.confirmed", window_start_at=order.window_start.isoformat())
    return order


def depart(nurse, order, instant=None):
    """The nurse sets out: the family hears she is on the way (once)."""
    order = _hers(nurse, order)
    _in(order, "accepted")
    if order.departed_at is None:
        order.departed_at = instant or now()
        audited(nurse, "homecare.depart", order)
        tell_family(order, "homecare.on_the_way", departed_at=order.departed_at.isoformat())
    return order


def check_in(nurse, order, lat=None, lng=None, instant=None):
    """Arrival: the visit starts (time and, when the phone gives it, where); no cancelling after this."""
    instant = instant or now()
    order = _hers(nurse, order)
    _in(order, "accepted")
    order.status, order.checked_in_at, order.check_in_lat, order.check_in_lng = "in_visit", instant, lat, lng
    audited(nurse, "homecare.check_in", order, located=lat is not None)
    tell_family(order, "homecare.started", checked_in_at=instant.isoformat())
    return order


def record(nurse, order, notes, used, instant=None):
    """What was done and the consumables used (codes of the service's catalogue, priced now); a later record
    replaces an earlier one until check-out."""
    order = _hers(nurse, order)
    _in(order, "in_visit")
    offered = {item["code"]: item for item in order.service.consumables}
    unknown = sorted({line["code"] for line in used} - set(offered))
    if unknown:
        raise Invalid("耗材不在该服务的目录中", code="unknown_consumable",
                      errors={"consumables": [f"未知耗材：{', '.join(unknown)}"]})
    lines = [{**offered[line["code"]], "quantity": line["quantity"]} for line in used]
    order.visit_notes, order.consumables_json = notes, json.dumps(lines, ensure_ascii=False)
    order.recorded_at = instant or now()
    audited(nurse, "homecare.record", order, consumables=[[line["code"], line["quantity"]] for line in lines])
    return order


def check_out(nurse, order, instant=None):
    """The visit ends: the bill (service + travel + consumables) is issued and the family asked to pay."""
    instant = instant or now()
    order = _hers(nurse, order)
    _in(order, "in_visit")
    if order.recorded_at is None:
        raise Conflict("请先填写服务记录再签退", code="record_missing")
    order.status, order.checked_out_at = "finished", instant
    bill = fees.visit_bill(order)
    audited(nurse, "homecare.check_out", order, bill_id=bill.id, total_fen=bill.total_fen)
    tell_family(order, "homecare.finished", bill_id=bill.id, total_fen=bill.total_fen)
    return order
