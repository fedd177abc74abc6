"""Answers given in front of Flask, as WSGI middleware, for the few requests a 07:00 rush is made of.

At a release instant almost every request is a public schedule answer that Redis already holds, or a booking
attempt that Redis already knows is sold out. Neither needs the framework's request cycle (routing, hooks, a
session of the database), so an edge answers them with one Redis round trip and hands everything else to Flask
untouched. Every answer given here is still counted and written to the access log, with its X-Request-Id.
"""
import io
import logging
import time

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from . import nostore, observability

log = logging.getLogger(__name__)


class Edge:
    """Base: `answer(environ)` returns (response, url rule, path) to answer here, or None to pass the request on."""

    def __init__(self, app):
        self.app = app
        self.inner = app.wsgi_app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        try:
            answered = self.answer(environ) if self.candidate(environ) else None
        except Exception:  # never a bare 500 from here: Flask answers the request in its own words
            log.exception("%s could not answer; handed to the app", type(self).__name__)
            answered = None
        if answered is None:
            return self.inner(environ, start_response)
        response, rule, path = answered
        rid = (environ.get(observability.EDGE_REQUEST_ID)
               or observability.request_id(environ.get("HTTP_X_REQUEST_ID", "")))
        response.headers["X-Request-Id"] = rid
        nostore.no_store(response)  # as Flask's after_request does
        observability.record(environ["REQUEST_METHOD"], rule, path, response.status_code,
                             time.perf_counter() - started, rid)
        return response(environ, start_response)

    def candidate(self, environ):
        """Cheap checks on the raw environ before anything is parsed."""
        raise NotImplementedError

    def answer(self, environ):
        raise NotImplementedError

    def rule_for(self, path, method):
        """The URL rule Flask would route this to, or None (not found, or a redirect such as a trailing slash)."""
        matched = self.match(path, method)
        return None if matched is None else matched[0]

    def match(self, path, method):
        """(URL rule, its values) as Flask would route this, or None (not found, a redirect, another method)."""
        try:
            return self.app.url_map.bind("edge").match(path, method, return_rule=True)
        except HTTPException:
            return None


class PostEdge(Edge):
    """Base for POSTs to one path, with a small body of declared length and a header (`header`, as in environ)."""

    path = header = None
    max_body = 0

    def __init__(self, app):
        super().__init__(app)
        self.rule = self.rule_for(self.path, "POST")

    def candidate(self, environ):
        length = environ.get("CONTENT_LENGTH") or ""
        return (environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == self.path
                and length.isdigit() and 0 < int(length) <= self.max_body
                and self.header in environ and self.rule is not None)

    def read(self, environ):
        """(request, body), the body put back for Flask to read again; None when it did not arrive whole."""
        req = Request(environ)
        body = req.get_data(cache=True)
        environ["wsgi.input"] = io.BytesIO(body)
        return (req, body) if len(body) == int(environ["CONTENT_LENGTH"]) else None
