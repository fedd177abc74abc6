"""A lean load generator: one HTTP/1.1 request per fresh connection, written and read by a bare asyncio protocol.

The benches run their load generator on the same two cores as the server. aiohttp spent 0.35–0.45 ms of CPU per
request there (2.0–2.5 s for a 6,000-request volley: most of one core), so every figure measured the client as
much as the service. This client does only what the volleys need — connect, send the request with
`Connection: close`, read until the server closes, parse the status line, headers and a JSON body — at about a
third of that (docs/performance.md, "Sixth round"). It runs on uvloop (bench_main installs it). aiohttp stays for
set-up calls and for the benches that keep connections alive; `--client aiohttp` measures the old way.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse

MAX_RESPONSE = 8 * 1024 * 1024  # a bench answer is a few KB; anything near this is a fault, not data


class WireError(OSError):
    """The server's answer could not be read as HTTP (closed early, malformed, too large)."""


class Fresh:
    """Stands where an aiohttp session would (`async with`): each request on a connection of its own."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    async def __aenter__(self) -> Fresh:
        return self

    async def __aexit__(self, *exc) -> None:
        return None


class _OneExchange(asyncio.Protocol):
    """Writes the request once connected; hands over every byte read when the server closes."""

    def __init__(self, payload: bytes, done: asyncio.Future):
        self.payload, self.done, self.chunks, self.size = payload, done, [], 0
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > MAX_RESPONSE:
            self._finish(WireError("response too large"))
            self.transport.abort()
            return
        self.chunks.append(data)

    def connection_lost(self, exc) -> None:
        self._finish(exc if exc is not None else b"".join(self.chunks))

    def _finish(self, outcome) -> None:
        if self.done.done():
            return
        if isinstance(outcome, BaseException):
            self.done.set_exception(outcome)
        else:
            self.done.set_result(outcome)


def request_bytes(method: str, url: str, headers: dict | None = None, body: bytes | None = None) -> tuple:
    """(host, port, the request's bytes) for an http:// URL, asking the server to close after answering."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ValueError(f"the lean client speaks plain http to host:port only, not {url!r}")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return parts.hostname, parts.port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def parse_response(raw: bytes) -> tuple[int, dict, bytes]:
    """(status, lower-cased headers, body) of one whole HTTP/1.1 answer; WireError when it is not one."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if not sep or len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
        raise WireError("not an HTTP answer")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        rest = _unchunk(rest)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if len(rest) < length:
            raise WireError("closed before the whole body arrived")
        rest = rest[:length]
    return int(status_line[1]), headers, rest


def _unchunk(data: bytes) -> bytes:
    """The body of a chunked answer; WireError when it stops before its last chunk."""
    out, pos = [], 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise WireError("chunked body cut short")
        size = int(data[pos:end].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2:end + 2 + size])
        if len(out[-1]) < size:
            raise WireError("chunked body cut short")
        pos = end + 2 + size + 2


async def exchange(client: Fresh, method: str, url: str, headers: dict | None = None,
                   json_body=None) -> tuple[int, dict, bytes]:
    """Send one request on a new connection and return (status, headers, body), within the client's timeout."""
    headers = dict(headers or {})
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    host, port, payload = request_bytes(method, url, headers, body)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    async def run():
        transport, _ = await loop.create_connection(lambda: _OneExchange(payload, done), host, port)
        try:
            return await done
        finally:
            transport.close()

    return parse_response(await asyncio.wait_for(run(), client.timeout_s))


def decoded(headers: dict, body: bytes):
    """The JSON body, or None when the answer is not JSON or does not parse."""
    if not body or not headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
