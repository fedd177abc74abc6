"""The shared WeChat access_token: one fetch per expiry across processes, refresh once on token errors."""
import json
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from patient_api.extensions import redis
from patient_api.wechat import token
from patient_api.wechat.token import WeChatError, access_token, call, jsapi_ticket

# WeChat's answers as recorded from api.weixin.qq.com (rid values shortened).
TOKEN_OK = {"access_token": "ACCESS_TOKEN_1", "expires_in": 7200}
TICKET_OK = {"errcode": 0, "errmsg": "ok", "ticket": "bxLdikRXVbTPdHSM05e5u5sUoXNKd8-41ZO3MhKoyN5OfkWITDGgnr2fwJ0m9E8NY"
                                                     "zWKVZvdVtaUgWvsdshFKA", "expires_in": 7200}
SEND_OK = {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
ERRORS = {
    40001: "invalid credential, access_token is invalid or not latest rid: 6650a1b2-1c2d3e4f-5a6b7c8d",
    40014: "invalid access_token rid: 6650a1b3-2d3e4f5a-6b7c8d9e",
    42001: "access_token expired rid: 6650a1b4-3e4f5a6b-7c8d9e0f",
    43004: "require subscribe rid: 6650a1b5-4f5a6b7c-8d9e0f1a",
    43101: "user refuse to accept the msg rid: 6650a1b6-5a6b7c8d-9e0f1a2b",
    45009: "reach max api daily quota limit rid: 6650a1b7-6b7c8d9e-0f1a2b3c",
    40164: "invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist rid: 6650a1b8-7c8d9e0f-1a2b3c4d",
    -1: "system error",
}


def wechat_error(code):
    """A recorded error body."""
    return {"errcode": code, "errmsg": ERRORS[code]}


def token_calls(app, mocked):
    """The GET /cgi-bin/token requests the mock saw."""
    url = app.config["WECHAT_API_BASE"] + "/cgi-bin/token"
    return [c for c in mocked.calls if c.request.url.split("?")[0] == url]


def add_tokens(app, mocked, count=3):
    """Answer token fetches with ACCESS_TOKEN_1, _2, … in turn."""
    for n in range(1, count + 1):
        mocked.get(app.config["WECHAT_API_BASE"] + "/cgi-bin/token",
                   json={"access_token": f"ACCESS_TOKEN_{n}", "expires_in": 7200})


@pytest.fixture
def mocked():
    """In-process fake of WeChat's HTTP API."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_first_call_fetches_with_client_credential_and_caches_for_expires_in(app, ctx, mocked):
    add_tokens(app, mocked, 1)
    assert [access_token() for _ in range(5)] == ["ACCESS_TOKEN_1"] * 5
    (fetch,) = token_calls(app, mocked)
    assert parse_qs(urlsplit(fetch.request.url).query) == {
        "grant_type": ["client_credential"], "appid": [app.config["WECHAT_APPID"]],
        "secret": [app.config["WECHAT_SECRET"]]}
    assert 7190_000 < redis.pttl(token.cache_key("access_token")) <= 7200_000


def test_near_expiry_one_caller_refreshes_while_others_keep_the_old_valid_token(app, ctx, mocked):
    add_tokens(app, mocked, 2)
    key = token.cache_key("access_token")
    assert access_token() == "ACCESS_TOKEN_1"
    redis.pexpire(key, 60_000)  # inside the 5-minute margin
    redis.set(key + ":lock", "another-process", px=5_000)  # someone else is fetching right now
    assert access_token() == "ACCESS_TOKEN_1" and len(token_calls(app, mocked)) == 1
    redis.delete(key + ":lock")
    assert access_token() == "ACCESS_TOKEN_2" and access_token() == "ACCESS_TOKEN_2"
    assert len(token_calls(app, mocked)) == 2


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_token_error_refreshes_once_and_retries_once(app, ctx, mocked, errcode):
    add_tokens(app, mocked, 2)
    url = app.config["WECHAT_API_BASE"] + "/cgi-bin/ticket/getticket"
    mocked.get(url, json=wechat_error(errcode))
    mocked.get(url, json=TICKET_OK)
    assert jsapi_ticket() == TICKET_OK["ticket"] and jsapi_ticket() == TICKET_OK["ticket"]
    tickets = [parse_qs(urlsplit(c.request.url).query) for c in mocked.calls if c.request.url.startswith(url)]
    assert [(q["access_token"], q["type"]) for q in tickets] == [(["ACCESS_TOKEN_1"], ["jsapi"]),
                                                                 (["ACCESS_TOKEN_2"], ["jsapi"])]
    assert len(token_calls(app, mocked)) == 2


def test_a_second_token_error_after_the_retry_fails_without_looping(app, ctx, mocked):
    add_tokens(app, mocked, 3)
    tried = []

    def api(access):
        tried.append(access)
        raise WeChatError(40001, ERRORS[40001])
    with pytest.raises(WeChatError) as failed:
        call(api)
    assert failed.value.errcode == 40001
    assert tried == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"] and len(token_calls(app, mocked)) == 2


def test_a_stale_token_error_does_not_drop_a_token_someone_already_refreshed(app, ctx, mocked):
    add_tokens(app, mocked, 2)
    old = access_token()
    assert access_token(force=True) == "ACCESS_TOKEN_2"  # process A saw 40001 and refreshed
    assert token.invalidate("access_token", old) is False  # process B's late 40001 on the old token
    assert access_token() == "ACCESS_TOKEN_2" and len(token_calls(app, mocked)) == 2


def test_a_failed_fetch_is_shared_for_a_moment_instead_of_refetched_by_every_caller(app, ctx, mocked):
    mocked.get(app.config["WECHAT_API_BASE"] + "/cgi-bin/token", json=wechat_error(40164))
    for _ in range(3):
        with pytest.raises(WeChatError) as failed:
            access_token()
        assert failed.value.errcode == 40164
    assert len(token_calls(app, mocked)) == 1


def test_credentials_never_reach_error_text():
    text = "ConnectionError: Max retries exceeded with url: /cgi-bin/token?grant_type=client_credential" \
           "&appid=wx1&secret=S3CRET (Caused by) /cgi-bin/message/template/send?access_token=T0KEN"
    assert "S3CRET" not in token.redact(text) and "T0KEN" not in token.redact(text)


# --- 4 processes × 250 concurrent calls against a fake WeChat over HTTP ------------------------------------------

PROCESSES, CALLS = 4, 250
PHASES = ("cold", "near_expiry", "expired")


class FakeWeChat(BaseHTTPRequestHandler):
    """GET /cgi-bin/token as WeChat answers it, held until every caller of the phase has piled up."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path != "/cgi-bin/token":
            self.send_error(404)
            return
        if query.get("grant_type") != ["client_credential"] or query.get("secret") != ["dev-wechat-secret"]:
            body = {"errcode": 40125, "errmsg": "invalid appsecret rid: 6650a1b9-8d9e0f1a-2b3c4d5e"}
        else:
            with self.server.lock:
                self.server.fetches += 1
                n = self.server.fetches
            self.server.hold(n)
            body = {"access_token": f"TOKEN-{n}", "expires_in": 7200}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; encoding=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def arrived_key(phase):
    """Redis counter of the callers that reached access_token() in one phase."""
    return f"test:wechat-token:arrived:{phase}"


def wait_for_callers(client, phase, bound=10.0):
    """The fetch is in flight until all PROCESSES × CALLS callers have arrived (at most `bound` seconds), so
    every one of them meets the refresh in progress: the strongest test of single flight."""
    deadline = time.monotonic() + bound
    while int(client.get(arrived_key(phase)) or 0) < PROCESSES * CALLS and time.monotonic() < deadline:
        time.sleep(0.005)


def redis_spec(client):
    """How a child process reaches the test's Redis: the embedded server's socket or the claimed database."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return {"unix_socket_path": kwargs["path"], "db": kwargs.get("db", 0)}
    return {key: kwargs.get(key) for key in ("host", "port", "db", "username", "password")}


def hammer(spec, api_base, barrier, results):
    """Child process: its own app on the shared Redis; CALLS concurrent access_token() calls per phase."""
    import redis as redis_lib

    from patient_api import create_app
    # redis-py pools hold 100 connections by default; here CALLS threads may each hold one at once.
    client = redis_lib.Redis(**spec, socket_timeout=30, max_connections=CALLS + 10)
    app = create_app({"ENV_NAME": "test", "TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "REDIS_CLIENT": client, "WECHAT_API_BASE": api_base, "WECHAT_SECRET": "dev-wechat-secret"})

    def one(gate, phase):
        gate.wait()  # all CALLS threads call at the same moment
        client.incr(arrived_key(phase))  # the fake WeChat holds its answer until every caller is here
        with app.app_context():
            return access_token()
    outcome = []
    with ThreadPoolExecutor(CALLS) as pool:
        for phase in PHASES:
            barrier.wait(timeout=120)
            gate = threading.Barrier(CALLS)
            tokens, errors = [], []
            for future in [pool.submit(one, gate, phase) for _ in range(CALLS)]:
                try:
                    tokens.append(future.result(timeout=60))
                except Exception as exc:  # reported to the parent, which asserts there are none
                    errors.append(repr(exc))
            outcome.append((tokens, errors))
            barrier.wait(timeout=120)
    results.put(outcome)


def test_four_processes_of_250_concurrent_calls_fetch_exactly_once_per_expiry(app, redis_client):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChat)
    server.lock, server.fetches, server.daemon_threads = threading.Lock(), 0, True
    server.hold = lambda n: wait_for_callers(redis_client, PHASES[min(n, len(PHASES)) - 1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(PROCESSES + 1), spawn.Queue()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    children = [spawn.Process(target=hammer, args=(redis_spec(redis_client), base, barrier, results))
                for _ in range(PROCESSES)]
    for child in children:
        child.start()
    with app.app_context():
        key = token.cache_key("access_token")
    fetched = []
    try:
        for phase in PHASES:
            if phase == "near_expiry":
                redis_client.pexpire(key, 60_000)  # still valid, but inside the refresh margin
            elif phase == "expired":
                redis_client.delete(key)
            barrier.wait(timeout=120)  # go
            barrier.wait(timeout=120)  # every call of this phase returned
            fetched.append(server.fetches)
        outcomes = [results.get(timeout=60) for _ in children]
    finally:
        for child in children:
            child.join(timeout=30)
        server.shutdown()
        server.server_close()
    assert fetched == [1, 2, 3]  # one fetch per expiry, however many callers
    errors = [error for outcome in outcomes for _tokens, phase_errors in outcome for error in phase_errors]
    assert errors == []
    by_phase = [[t for outcome in outcomes for t in outcome[i][0]] for i in range(len(PHASES))]
    assert [len(tokens) for tokens in by_phase] == [PROCESSES * CALLS] * len(PHASES)
    assert set(by_phase[0]) == {"TOKEN-1"}
    assert set(by_phase[1]) <= {"TOKEN-1", "TOKEN-2"}  # the old token stays valid while the new one is fetched
    assert set(by_phase[2]) == {"TOKEN-3"}
    assert redis_client.get(key) == b"TOKEN-3" and all(child.exitcode == 0 for child in children)
