"""The ApiError hierarchy and the one place that turns any error into the JSON envelope."""
import logging

from flask import current_app, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger("patient_api.errors")


class ApiError(Exception):
    """An error the caller can act on: HTTP status, stable code, Chinese message."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message=None, code=None, status=None, errors=None, headers=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors
        self.headers = headers or {}


class NotFound(ApiError):
    status, code, message = 404, "not_found", "未找到该资源"


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "无权访问"


class Conflict(ApiError):
    status, code, message = 409, "conflict", "操作与当前状态冲突"


class Invalid(ApiError):
    status, code, message = 422, "validation_error", "提交的数据有误"


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "操作太频繁，请稍后再试"

    def __init__(self, retry_after):
        super().__init__(headers={"Retry-After": str(int(retry_after))})


class Unavailable(ApiError):
    status, code, message = 503, "service_unavailable", "服务繁忙，请稍后再试"


# Stable codes for plain HTTP errors raised by Flask, werkzeug or webargs.
HTTP_CODES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "无权访问"),
    404: ("not_found", "未找到该资源"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "不支持的响应格式"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请使用 JSON 格式"),
    422: ("validation_error", "提交的数据有误"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
}


def envelope(status, code, message, errors=None, headers=None):
    """Build the JSON error response every caller sees."""
    body = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def handle_api_error(err):
    """ApiError → envelope."""
    return envelope(err.status, err.code, err.message, err.errors, err.headers)


def handle_http_exception(err):
    """werkzeug/webargs HTTPException → envelope; webargs puts field errors in data."""
    status = err.code or 500
    code, message = HTTP_CODES.get(status, ("http_error", err.description or "请求有误"))
    messages = (getattr(err, "data", None) or {}).get("messages")
    if status == 400 and messages:
        code, message = "malformed_json", "请求体不是合法的 UTF-8 JSON"
        messages = None
    if status == 422:
        messages = flatten_locations(messages or {})
    return envelope(status, code, message, messages if status == 422 else None)


def flatten_locations(messages):
    """webargs nests errors by location ({"json": {...}}); callers want the fields."""
    flat = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def store_unreachable(err):
    """Redis or PostgreSQL out of reach for a moment (restart, failover, lost connection): not a bug of ours."""
    import redis
    from sqlalchemy.exc import DBAPIError, OperationalError
    if isinstance(err, (redis.ConnectionError, redis.TimeoutError, OperationalError)):
        return True
    return isinstance(err, DBAPIError) and err.connection_invalidated


def handle_unexpected(err):
    """Anything else: log with the request id, answer 500 without internals (503 when a store is away)."""
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    from .extensions import db
    unreachable = store_unreachable(err)
    if unreachable:  # the client should simply retry, as after a 503 from the session lookup
        log.warning("store unreachable request_id=%s: %s", g.get("request_id"), type(err).__name__)
    else:
        log.exception("unhandled error request_id=%s", g.get("request_id"))
    try:
        db.session.rollback()
    except Exception:  # the connection is gone with the store; nothing of this request was committed
        log.warning("rollback failed request_id=%s", g.get("request_id"))
    if current_app.config.get("PROPAGATE_UNEXPECTED"):
        raise err
    if unreachable:
        return envelope(503, Unavailable.code, Unavailable.message, headers={"Retry-After": "1"})
    return envelope(500, "internal_error", "服务器内部错误，请稍后再试")


def register(app):
    """Install the handlers; called after flask-smorest so ours win."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
