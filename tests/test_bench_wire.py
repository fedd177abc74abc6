"""bench/_wire.py, the benches' lean load generator: what it sends, what it reads, and that it never takes a broken
answer for a whole one (a bench would count it as served)."""
import asyncio
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import _wire as W  # noqa: E402


def test_an_answer_with_a_length_is_cut_at_its_length_and_its_headers_read_case_blind():
    status, headers, body = W.parse_response(b"HTTP/1.1 409 CONFLICT\r\nContent-Type: application/json\r\n"
                                             b"Content-Length: 13\r\n\r\n{\"code\":\"x\"}\nextra")
    assert (status, headers["content-type"], body) == (409, "application/json", b'{"code":"x"}\n')
    assert W.decoded(headers, body) == {"code": "x"}


def test_a_chunked_answer_is_joined():
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=1\r\nefg\r\n0\r\n\r\n"
    assert W.parse_response(raw)[2] == b"abcdefg"


@pytest.mark.parametrize("raw", [
    b"", b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc", b"HTTP/1.1 200 OK\r\nContent-Length: 2",
])
def test_a_cut_or_malformed_answer_is_an_error_not_a_status(raw):
    with pytest.raises(W.WireError):
        W.parse_response(raw)


def test_the_request_asks_to_close_and_carries_its_body_length():
    host, port, payload = W.request_bytes("POST", "http://127.0.0.1:8080/api/v1/appointments?x=1",
                                          {"Authorization": "Bearer t"}, b'{"a":1}')
    head, body = payload.split(b"\r\n\r\n")
    assert (host, port, body) == ("127.0.0.1", 8080, b'{"a":1}')
    assert head.split(b"\r\n") == [b"POST /api/v1/appointments?x=1 HTTP/1.1", b"Host: 127.0.0.1:8080",
                                   b"Connection: close", b"Authorization: Bearer t", b"Content-Length: 7"]
    with pytest.raises(ValueError):
        W.request_bytes("GET", "https://127.0.0.1:8443/")


def test_an_exchange_with_a_real_server_and_a_server_that_never_answers():
    received = []

    async def answer(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.startswith(b"Content-Length")))
        received.append((head, await reader.readexactly(length)))
        body = json.dumps({"id": "apt_1"}).encode()
        writer.write(b"HTTP/1.1 201 CREATED\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        writer.close()

    async def run():
        done = asyncio.Event()

        async def silent(reader, writer):  # holds the connection, answering nothing, until the test is over
            await done.wait()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        mute = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with server, mute:
            port, mute_port = server.sockets[0].getsockname()[1], mute.sockets[0].getsockname()[1]
            status, headers, body = await W.exchange(W.Fresh(5), "POST", f"http://127.0.0.1:{port}/book",
                                                     {"Idempotency-Key": "k1"}, {"schedule_id": "sch_1"})
            with pytest.raises(asyncio.TimeoutError):
                await W.exchange(W.Fresh(0.2), "GET", f"http://127.0.0.1:{mute_port}/healthz")
            done.set()
        return status, W.decoded(headers, body)

    assert asyncio.run(run()) == (201, {"id": "apt_1"})
    head, body = received[0]
    assert json.loads(body) == {"schedule_id": "sch_1"}
    assert b"Connection: close" in head and b"Idempotency-Key: k1" in head and b"Content-Type: application/json" in head
