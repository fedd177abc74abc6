"""Cached public schedule answers (the list, one schedule, its time windows) served in front of Flask.

A hit needs nothing of the framework: one Redis round trip. Anything else goes on to Flask unchanged: a miss
(which reuses this round trip's answer), a patient's own view, Redis down, another method, a request with a body.
"""
import redis as redis_lib
from werkzeug.wrappers import Request

from ..common.edge import Edge
from . import public_cache


class PublicScheduleEdge(Edge):
    """For the endpoints whose views are wrapped by public_cache.cached."""

    def __init__(self, app):
        super().__init__(app)
        rules = [rule for rule in app.url_map.iter_rules()
                 if getattr(app.view_functions.get(rule.endpoint), "public_cache", False)]
        self.endpoints = {rule.endpoint for rule in rules}
        self.prefixes = tuple(sorted({rule.rule.split("<", 1)[0] for rule in rules}))

    def candidate(self, environ):
        """A bodiless GET under a cached endpoint's path while the cache is on."""
        return (environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").startswith(self.prefixes)
                and environ.get("CONTENT_LENGTH") in (None, "", "0")
                and self.app.config.get("SCHEDULE_CACHE_MS", 0) > 0)

    def answer(self, environ):
        req = Request(environ)  # werkzeug's, so path and query parse exactly as Flask's own request will
        rule = self.rule_for(req.path, "GET")
        key = public_cache.key_for(req) if rule is not None and rule.endpoint in self.endpoints else None
        if key is None:
            return None
        try:
            entry, seq = public_cache.probe(key)
        except redis_lib.RedisError:
            return None  # the view says so in the log and renders from the database
        if entry is None:
            environ[public_cache.PROBE] = (key, entry, seq)
            return None
        etag, body = public_cache.entry_parts(entry)
        return public_cache.answer(body, etag, req), rule.rule, req.path


def install(app):
    """Put the edge in front of the app's WSGI callable (after every blueprint is registered)."""
    app.wsgi_app = PublicScheduleEdge(app)
