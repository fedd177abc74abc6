"""Booking attempts on a sold-out schedule (or a full time window) refused in front of Flask.

Once the tickets are gone, nearly every request of a rush is such an attempt. What refuses it in the app
(routes.resident_with_flags: the session and the sold-out flags read in one Redis round trip) runs here on the raw
request, with the same functions, and answers the same 409. Anything it cannot refuse goes on to Flask unchanged,
with the body it read put back (and, when it read them, the session's account and the flags, so the view does not
ask Redis again): an attempt Redis does not flag, a bad or missing session, a body that does not read cleanly,
Redis down, and a retry whose Idempotency-Key may have an answer to replay.
"""
from flask import g

from ..common import auth, idempotency
from ..common.edge import PostEdge
from ..errors import ApiError, handle_api_error
from . import routes, shedding

PATH = "/api/v1/appointments"
MAX_BODY = 4096  # a booking body is ~150 bytes; anything larger is left to Flask and its limits


class SoldOutEdge(PostEdge):
    """POST /api/v1/appointments refused from the sold-out flags."""

    path, max_body, header = PATH, MAX_BODY, "HTTP_AUTHORIZATION"

    def answer(self, environ):
        read = self.read(environ)
        token = auth.token_of(environ["HTTP_AUTHORIZATION"])
        if read is None or token is None:
            return None
        req, _ = read
        with self.app.app_context():
            target = routes.target_of(req)
            if target is None:
                return None
            key = idempotency.usable_key(environ.get("HTTP_IDEMPOTENCY_KEY"))
            try:
                account_id = auth.resolve_session(token, "resident", shedding.first_look(target, key))
            except ApiError:
                return None  # a 401 or a 503 is Flask's to give
            try:
                flags = shedding.judge(target, key, g.session_also)
            except ApiError as err:
                return handle_api_error(err), self.rule.rule, PATH
        environ[shedding.LOOKED] = (account_id, flags)  # the view does not ask Redis again
        return None


def install(app):
    """Put the edge in front of the app's WSGI callable (after every blueprint is registered)."""
    app.wsgi_app = SoldOutEdge(app)
