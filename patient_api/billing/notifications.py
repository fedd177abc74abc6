"""The WeChat Pay notification endpoint's work: verify, decrypt, then apply through the state machine."""
import logging
import time

from ..errors import ApiError
from ..extensions import db
from .gateway import notification_settings
from .payments import already_applied, apply_transaction
from .wechatpay import NotificationError, notification_serial, verify_notification

log = logging.getLogger(__name__)
# Other WeChat Pay events by prefix (委托代扣 contracts: "PAPAY."), answered by the feature that owns them.
_HANDLERS = {}
VERIFIED = "patient_api.wechatpay.verified"  # environ key: what billing.edge verified, handed to the view


def handles(prefix):
    """Decorator: handler(settings, resource) -> outcome for notifications whose event_type starts with prefix."""
    def register(handler):
        _HANDLERS[prefix] = handler
        return handler
    return register


def verify(headers, body):
    """(settings, the verified and decrypted notification); NotificationError for anything not genuine."""
    settings = notification_settings(notification_serial(headers))  # no client: nothing is sent to WeChat here
    return settings, verify_notification(settings, headers, body, time.time())


def handle(headers, body, verified=None):
    """Apply one notification; raises a 4xx ApiError (nothing changed) for anything not genuine or not ours.

    verified: what billing.edge found checking exactly this body, as (body, (settings, notification)) or (body,
    the NotificationError it raised): the signature is checked once per request.
    """
    handed = verified[1] if verified is not None and verified[0] == body else None
    try:
        if isinstance(handed, NotificationError):
            raise handed
        settings, notice = handed or verify(headers, body)
    except NotificationError as exc:
        log.warning("wechatpay notification refused: %s", exc.code)
        raise ApiError("通知验证失败", code=exc.code, status=exc.http_status) from None
    event = notice["event_type"]
    if event == "TRANSACTION.SUCCESS":
        outcome = apply_transaction(settings, notice["resource"])
    elif event.startswith("REFUND."):
        from .refunds import apply_refund_notice
        outcome = apply_refund_notice(settings, notice["resource"])
    else:
        handler = next((h for prefix, h in _HANDLERS.items() if event.startswith(prefix)), None)
        outcome = handler(settings, notice["resource"]) if handler else "ignored"
    _commit()  # first: a payment holds the receipt counter, which every other payment waits for, until its commit
    logged(notice, outcome)
    return outcome


def known_applied(settings, notice):
    """True for a payment notification Redis knows was applied and committed: nothing is left to do but say so."""
    return notice["event_type"] == "TRANSACTION.SUCCESS" and already_applied(settings, notice["resource"])


def logged(notice, outcome):
    """The one log line of an answered notification."""
    log.info("wechatpay notification %s %s → %s", notice["id"], notice["event_type"], outcome)


def _commit():
    """Commit now, as the request cycle would at the end: a failed commit is a 503, never a false success."""
    try:
        db.session.commit()
    except Exception:  # the write did not happen; WeChat sends the notification again
        db.session.rollback()
        log.exception("commit failed")
        raise ApiError("保存失败，请重试", code="commit_failed", status=503) from None
