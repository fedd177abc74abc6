"""The home visit as a bill kind: service + travel + consumables used, or a late cancellation's fee.

The bill is billing's own (ledger.issue), paid with the ordinary payment endpoints; billing asks this kind who
made it (the requesting account) and tells it once the bill is paid. 互联网+护理 is self-paid: all of it goes
through WeChat. create_app imports this module.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..billing import kinds, ledger
from ..billing.models import Bill, BillItem
from ..common.inputs import ascii_int
from ..extensions import db
from .models import HomecareOrder

log = logging.getLogger(__name__)
KIND = "homecare"
DEPARTMENT = "互联网+护理"


def _order_of(bill):
    return db.session.scalars(sa.select(HomecareOrder).filter_by(bill_id=bill.id)).first()


def _booker(bill):
    order = _order_of(bill)
    return order.account_id if order else None


def _booked_by(account_id):
    return sa.select(HomecareOrder.bill_id).where(HomecareOrder.account_id == account_id,
                                                  HomecareOrder.bill_id.is_not(None))


def _paid(bill, payment, instant):
    order = _order_of(bill)
    if order is not None:
        order.paid_at = instant


kinds.register(KIND, description="泰安健康-互联网+护理", split=lambda bill: {"amount_fen": bill.total_fen},
               on_paid=_paid, booker=_booker, booked_by=_booked_by)


def _issue(order, items):
    bill = Bill(patient_id=order.patient_id, hospital_id=order.hospital_id, kind=KIND,
                total_fen=sum(item.amount_fen for item in items), department=DEPARTMENT, insurance_type="self_pay",
                items=items)
    db.session.add(bill)
    db.session.flush()
    ledger.issue(bill)
    order.bill_id = bill.id
    return bill


def visit_bill(order):
    """The bill of a finished visit: the service, the travel band's fee and each consumable used."""
    service = order.service
    items = [BillItem(code=f"HC-{service.code}"[:40], name=service.name, category="护理费", quantity=1,
                      unit_price_fen=order.service_fee_fen, amount_fen=order.service_fee_fen)]
    if order.travel_fee_fen:
        band = service.band(order.distance_band)
        items.append(BillItem(code=f"HC-TRAVEL-{order.distance_band}"[:40],
                              name=f"上门交通费（{band['name'] if band else order.distance_band}）", category="交通费",
                              quantity=1, unit_price_fen=order.travel_fee_fen, amount_fen=order.travel_fee_fen))
    for used in order.consumables_used:
        items.append(BillItem(code=f"HC-C-{used['code']}"[:40], name=used["name"], category="材料费",
                              quantity=used["quantity"], unit_price_fen=used["unit_price_fen"],
                              amount_fen=used["quantity"] * used["unit_price_fen"]))
    return _issue(order, items)


def free_cancel_until(order):
    """Until when the resident may cancel without a fee."""
    return order.window_start - timedelta(hours=current_app.config["HOMECARE_FREE_CANCEL_HOURS"])


def cancel_fee_fen(order, instant):
    """What cancelling now costs: nothing before a nurse is assigned or until the free-cancel deadline (inclusive),
    then HOMECARE_CANCEL_FEE ("travel": the order's travel fee; or a number of fen)."""
    if order.status == "requested" or instant <= free_cancel_until(order):
        return 0
    setting = str(current_app.config["HOMECARE_CANCEL_FEE"]).strip()
    if ascii_int(setting) is not None:
        return ascii_int(setting)
    if setting != "travel":
        log.error("PATIENT_API_HOMECARE_CANCEL_FEE=%r is neither 'travel' nor fen; charging the travel fee", setting)
    return order.travel_fee_fen or 0


def cancellation_bill(order, fee_fen):
    """The bill of a late cancellation's fee."""
    hours = current_app.config["HOMECARE_FREE_CANCEL_HOURS"]
    return _issue(order, [BillItem(code="HC-CANCEL", name=f"取消服务费（距上门时间不足{hours}小时）", category="其他",
                                   quantity=1, unit_price_fen=fee_fen, amount_fen=fee_fen)])
