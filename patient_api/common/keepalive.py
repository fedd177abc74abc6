"""Keep pooled connections usable when we answer before reading the request body."""
from flask import current_app, request
from werkzeug.exceptions import ClientDisconnected


def settle_unread_body(response):
    """An answer given before the body was read (a 401 on a 100 KB push) would leave the body on a keep-alive
    connection, where the server reads it as the client's next request: read the rest, or close the connection."""
    length = request.content_length
    if not length:
        return response
    if length > (current_app.config.get("MAX_CONTENT_LENGTH") or 0):
        response.headers["Connection"] = "close"  # never read (werkzeug refuses such a stream): do not read it now
        return response
    stream = request.stream
    if getattr(stream, "is_exhausted", True):
        return response
    try:
        stream.exhaust()
    except ClientDisconnected:
        response.headers["Connection"] = "close"
    return response
