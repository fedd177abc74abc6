"""Cached public schedule answers served in front of Flask.

At a release instant most requests are a department's schedule list and a schedule's time windows, the same for
everyone. A hit needs nothing of the framework (no view, no session, no database, no transaction), so it is
answered here with one Redis round trip, and is still counted and written to the access log like every answer.
Anything else goes on to Flask unchanged: a miss (which reuses this round trip's answer), a patient's own view,
Redis down, another method, a request with a body.
"""
import time

import redis as redis_lib
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from ..common import observability
from . import public_cache


class PublicScheduleEdge:
    """WSGI middleware for the endpoints whose views are wrapped by public_cache.cached."""

    def __init__(self, app):
        self.app = app
        self.inner = app.wsgi_app
        rules = [rule for rule in app.url_map.iter_rules()
                 if getattr(app.view_functions.get(rule.endpoint), "public_cache", False)]
        self.endpoints = {rule.endpoint for rule in rules}
        self.prefixes = tuple(sorted({rule.rule.split("<", 1)[0] for rule in rules}))

    def __call__(self, environ, start_response):
        if not self._candidate(environ):
            return self.inner(environ, start_response)
        started = time.perf_counter()
        req = Request(environ)  # werkzeug's, so path and query parse exactly as Flask's own request will
        rule = self._rule(req)
        key = public_cache.key_for(req) if rule is not None else None
        if key is None:
            return self.inner(environ, start_response)
        try:
            entry, seq = public_cache.probe(key)
        except redis_lib.RedisError:
            return self.inner(environ, start_response)  # the view says so in the log and renders from the database
        if entry is None:
            environ[public_cache.PROBE] = (key, entry, seq)
            return self.inner(environ, start_response)
        etag, body = public_cache.entry_parts(entry)
        response = public_cache.answer(body, etag, req)
        rid = observability.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        response.headers["X-Request-Id"] = rid
        observability.record("GET", rule.rule, req.path, response.status_code, time.perf_counter() - started, rid)
        return response(environ, start_response)

    def _candidate(self, environ):
        """A bodiless GET under a cached endpoint's path while the cache is on: cheap checks before any parsing."""
        return (environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").startswith(self.prefixes)
                and environ.get("CONTENT_LENGTH") in (None, "", "0")
                and self.app.config.get("SCHEDULE_CACHE_MS", 0) > 0)

    def _rule(self, req):
        """The URL rule Flask would route this path to, if it is a cached endpoint's."""
        try:
            rule, _ = self.app.url_map.bind("edge").match(req.path, "GET", return_rule=True)
        except HTTPException:  # not found, or a redirect (trailing slash): Flask answers it
            return None
        return rule if rule.endpoint in self.endpoints else None


def install(app):
    """Put the edge in front of the app's WSGI callable (after every blueprint is registered)."""
    app.wsgi_app = PublicScheduleEdge(app)
