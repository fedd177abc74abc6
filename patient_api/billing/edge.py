"""Repeated WeChat Pay notifications of orders already paid, answered in front of Flask.

WeChat repeats a notification until it hears a 2xx, often several copies at once; once one copy has been applied
and committed, the others only need the answer. What the app does for such a copy (billing.notifications: the
signature and freshness checked, the resource decrypted, the order's paid mark found in Redis) runs here on the raw
request, with the same functions, and answers the same 204. Anything else — a first delivery, a refund, any other
event, a notification that does not verify, Redis down — goes on to Flask with its body whole and, when it
verified here, what was found (the notification, or why it was refused), so the view does not check the signature
again.
"""
from ..common.edge import PostEdge
from . import notifications
from .wechatpay import NotificationError

PATH = "/api/v1/payments/wechatpay/notify"
MAX_BODY = 16384  # a notification is ~1 KB; anything larger is left to Flask and its limits


class PaidReplayEdge(PostEdge):
    """POST /api/v1/payments/wechatpay/notify answered 204 for an order Redis knows is paid by that transaction."""

    path, max_body, header = PATH, MAX_BODY, "HTTP_WECHATPAY_SIGNATURE"

    def answer(self, environ):
        read = self.read(environ)
        if read is None:
            return None
        req, body = read
        with self.app.app_context():
            try:
                settings, notice = notifications.verify(req.headers, body)
            except NotificationError as exc:
                environ[notifications.VERIFIED] = (body, exc)  # refused by the view, in its words and log line
                return None
            if not notifications.known_applied(settings, notice):
                environ[notifications.VERIFIED] = (body, (settings, notice))
                return None
            notifications.logged(notice, "duplicate")
        return self.app.response_class(status=204, content_type="application/json"), self.rule.rule, PATH


def install(app):
    """Put the edge in front of the app's WSGI callable (after every blueprint is registered)."""
    app.wsgi_app = PaidReplayEdge(app)
