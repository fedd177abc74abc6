"""Request ids, structured JSON logs and Prometheus metrics."""
import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from .masking import mask_text

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUESTS = Counter("patient_api_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("patient_api_request_seconds", "HTTP request latency", ["method", "endpoint"])


class JsonFormatter(logging.Formatter):
    """One JSON object per line; callers mask what they log, and identifiers that slip through are masked here."""

    def format(self, record):
        entry = {"ts": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "msg": mask_text(record.getMessage())}
        for field in ("request_id", "method", "path", "status", "ms"):
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level="INFO", name="patient_api"):
    """Send the logger `name`'s records (the app's, or a library's such as "rq") to stderr as masked JSON lines."""
    root = logging.getLogger(name)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False  # one JSON line per event, even when a library configured the root logger


access_log = logging.getLogger("patient_api.access")


# Where an edge that needed the request id before answering (for the rows it writes) leaves it for its log line.
EDGE_REQUEST_ID = "patient_api.request_id"


def request_id(incoming):
    """The caller's X-Request-Id when well-formed, else a new one."""
    return incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex


def before_request():
    """Take the caller's X-Request-Id when well-formed, else make one."""
    g.request_id = request_id(request.headers.get("X-Request-Id", ""))
    g.started = time.perf_counter()


def after_request(response):
    """Echo the request id, count the request, write one access-log line.

    The query string is left out of the log: it may carry personal data.
    """
    response.headers["X-Request-Id"] = g.get("request_id", "")
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    record(request.method, endpoint, request.path, response.status_code, elapsed, g.get("request_id"))
    return response


def record(method, endpoint, path, status, elapsed, rid):
    """Count one answered request and write its access-log line (also for answers given before Flask)."""
    REQUESTS.labels(method, endpoint, status).inc()
    LATENCY.labels(method, endpoint).observe(elapsed)
    access_log.info("request", extra={"request_id": rid, "method": method, "path": path, "status": status,
                                      "ms": round(elapsed * 1000, 1)})


def metrics_view():
    """Prometheus text format; aggregates all gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
