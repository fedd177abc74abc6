"""Calling hospitals back (bill paid/refunded, stay settled, family-doctor contracts) through the outbox.

Billing and family do not call this module: the callbacks subscribe to their published events (common.events).
"""
import requests

from ..common import events, outbox
from ..directory.models import Hospital
from ..extensions import db
from .auth import webhook_signature

TIMEOUT = (3, 10)


def notify_hospital(hospital_id, event, data):
    """Queue a signed callback to the hospital, sent after this transaction commits."""
    outbox.enqueue("hospital_webhook", hospital_id, event, {"event": event, "data": data})


@events.subscribe("bill.paid")
def bill_paid(bill, payment, instant):
    """bill.paid, so HIS can mark the order settled."""
    notify_hospital(bill.hospital_id, "bill.paid", {"bill_id": bill.id, "order_no": bill.order_no,
                                                    "out_trade_no": payment.out_trade_no,
                                                    "amount_fen": bill.total_fen, "kind": bill.kind})


@events.subscribe("bill.refunded")
def bill_refunded(bill, refund, instant):
    """bill.refunded once WeChat confirmed a refund of the bill's own payment."""
    notify_hospital(bill.hospital_id, "bill.refunded", {"bill_id": bill.id, "order_no": bill.order_no,
                                                        "out_refund_no": refund.caller_refund_no,
                                                        "amount_fen": refund.amount_fen})


@events.subscribe("family.contract_changed")
def family_contract_changed(contract, previous, instant):
    """family_doctor_contract.changed when a contract signed, renewed or ended online (or expired) changes state, so
    the clinic's system can record it and push later changes under the same contract_no."""
    notify_hospital(contract.hospital_id, "family_doctor_contract.changed", {
        "contract_id": contract.id, "contract_no": contract.contract_no, "status": contract.status,
        "previous_status": previous, "team": contract.team, "package": contract.package,
        "starts_on": contract.starts_on.isoformat(), "ends_on": contract.ends_on.isoformat(),
        "renewed_from_id": contract.renewed_from_id, "source": contract.source})


def send(hospital_id, event, payload):
    """POST one callback; non-2xx or no webhook URL raises, so the outbox retries."""
    hospital = db.session.get(Hospital, hospital_id)
    if hospital is None or not hospital.webhook_url:
        db.session.rollback()
        raise RuntimeError("hospital has no webhook URL")
    body = payload.encode()
    url, signature = hospital.webhook_url, webhook_signature(hospital, body)
    db.session.rollback()  # read only: no transaction stays open during the call
    response = requests.post(url, data=body, timeout=TIMEOUT, headers={
        "Content-Type": "application/json; charset=utf-8", "X-Event": event, "X-Signature": signature})
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"HTTP {response.status_code}")
