"""A resident's report reads (the list, one report) answered in front of Flask, on PostgreSQL.

After a new result's notice, residents open the list and then a report; both are a session lookup and one statement
that reads and writes its own access-log row (queries.resident_list, access.resident_report). The framework's
request cycle around that — routing, hooks, the arguments' parser wrapper, a database session to commit — cost more
than the read itself (docs/performance.md), so an edge runs the same functions on the raw request: the same
session lookup, the same arguments parser and schema, the same statement, the same body. Whatever it does not
answer goes on to Flask untouched and is answered in Flask's words: no or a bad session, arguments that do not
validate, Redis down. A refusal the read itself decides (403, 404) is answered here as the view would, in the
app's error envelope. Only on PostgreSQL: elsewhere the read is two statements in the session's transaction.
"""
import functools
from types import MappingProxyType

from flask import g
from werkzeug.wrappers import Request

from ..common import auth, observability
from ..common.direct import on_postgresql
from ..common.edge import Edge
from ..errors import ApiError, handle_api_error
from . import queries
from .access import resident_report
from .routes import DETAIL_BODY, LIST_BODY, blp
from .schemas import ReportQuery

PREFIX = "/api/v1/reports"
ENDPOINTS = {"results.Reports": "list", "results.ReportItem": "detail"}


class ReportReadEdge(Edge):
    """GET /api/v1/reports and GET /api/v1/reports/{id} with a resident's bearer token."""

    def __init__(self, app):
        super().__init__(app)
        self.query = ReportQuery()
        with app.app_context():
            self.enabled = on_postgresql()

    def candidate(self, environ):
        """A bodiless GET of a report path with a bearer token, on PostgreSQL."""
        return (self.enabled and environ.get("REQUEST_METHOD") == "GET"
                and environ.get("PATH_INFO", "").startswith(PREFIX) and "HTTP_AUTHORIZATION" in environ
                and environ.get("CONTENT_LENGTH") in (None, "", "0"))

    def answer(self, environ):
        req = Request(environ)  # werkzeug's, so path and query parse exactly as Flask's own request will
        matched = self.match(req.path, "GET")
        if matched is None:  # not found, a redirect (trailing slash): Flask's to say
            return None
        rule, values = matched
        kind, token = ENDPOINTS.get(rule.endpoint), auth.token_of(environ["HTTP_AUTHORIZATION"])
        if kind is None or token is None:
            return None
        with self.app.app_context():
            g.request_id = environ[observability.EDGE_REQUEST_ID] = observability.request_id(
                environ.get("HTTP_X_REQUEST_ID", ""))
            try:
                query = self.arguments(environ.get("QUERY_STRING", "")) if kind == "list" else None
                account_id = auth.resolve_session(token, "resident")
            except Exception:  # a 401, a 422, a 503: Flask gives them, in its words and log lines
                return None
            try:
                body = self.list_body(account_id, query) if kind == "list" else self.detail_body(account_id, values)
            except ApiError as err:  # 403 / 404 from the read, which wrote nothing
                return handle_api_error(err), rule.rule, req.path
            return self.app.json.response(body), rule.rule, req.path

    @functools.lru_cache(maxsize=4096)  # noqa: B019  (one edge per app, kept as long as the app)
    def arguments(self, query_string):
        """The list's arguments as the view's parser and schema read them (ValidationError, HTTPException when they do
        not). Kept per query string: many residents send the same one (none, a kind, a page size)."""
        environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": query_string, "wsgi.url_scheme": "http",
                   "SERVER_NAME": "edge", "SERVER_PORT": "80"}
        return MappingProxyType(blp.ARGUMENTS_PARSER.parse(self.query, Request(environ), location="query"))

    @staticmethod
    def list_body(account_id, query):
        """The list's body, as routes.Reports.get makes it."""
        items, paging = queries.resident_list(account_id, query.get("patient_id"), query.get("kind"), query,
                                              query.get("hospital_id"))
        return LIST_BODY({"items": items, **paging})

    @staticmethod
    def detail_body(account_id, values):
        """The report's body, as routes.ReportItem.get makes it."""
        report, items, patient, hospital_name = resident_report(account_id, values["report_id"], "report",
                                                                alone=True)
        return DETAIL_BODY(queries.detail(report, patient.id, hospital_name, items))


def install(app):
    """Put the edge in front of the app's WSGI callable (after every blueprint is registered)."""
    app.wsgi_app = ReportReadEdge(app)
