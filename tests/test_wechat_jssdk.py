"""JS-SDK config for the H5 pages: WeChat's documented signature example, host check, ticket from the shared cache."""
import hashlib

import pytest
import responses

from patient_api.wechat import jssdk

URL = "/api/v1/wechat/jssdk-config"
H5 = "https://h5.health.example"
TICKET = "bxLdikRXVbTPdHSM05e5u5sUoXNKd8-41ZO3MhKoyN5OfkWITDGgnr2fwJ0m9E8NYzWKVZvdVtaUgWvsdshFKA"


@pytest.fixture
def h5(app, monkeypatch):
    """Our H5 host and a fixed jsapi_ticket (token.py's cache has its own tests)."""
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", H5)
    monkeypatch.setitem(app.config, "WECHAT_APPID", "wx6f1c2b3a4d5e6f70")
    monkeypatch.setattr(jssdk, "jsapi_ticket", lambda: TICKET)


def expected(ticket, noncestr, timestamp, url):
    """WeChat's algorithm, written out: sha1 of the four fields in key order joined with &."""
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()


def test_signature_matches_wechats_documented_example():
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    signature = jssdk.signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
    assert signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_config_for_an_h5_page(client, h5):
    page = f"{H5}/booking?hospital=H1&dept=D2"
    response = client.get(URL, query_string={"url": page + "#/step/2"})
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"appId", "timestamp", "nonceStr", "signature", "jsApiList"}
    assert body["appId"] == "wx6f1c2b3a4d5e6f70" and "chooseWXPay" in body["jsApiList"]
    # Signed without the #fragment, as the JS-SDK spec says.
    assert body["signature"] == expected(TICKET, body["nonceStr"], body["timestamp"], page)
    again = client.get(URL, query_string={"url": page}).json
    assert again["nonceStr"] != body["nonceStr"]


@pytest.mark.parametrize("url", [
    "https://evil.example/booking", "https://h5.health.example.evil.example/", "https://evil.example@h5.health.example/",
    "https://h5.health.example@evil.example/", "javascript:alert(1)", "/booking", "h5.health.example/booking",
    "ftp://h5.health.example/x", "https://h5.health.example:8443/x", "http://[::1/",
])
def test_pages_elsewhere_get_no_signature(client, h5, url):
    response = client.get(URL, query_string={"url": url})
    assert response.status_code == 422 and "url" in response.json["errors"]


def test_url_is_required(client, h5):
    response = client.get(URL)
    assert response.status_code == 422 and "url" in response.json["errors"]


def test_ticket_comes_from_wechat_once_through_the_shared_cache(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", H5)
    base = app.config["WECHAT_API_BASE"]
    with responses.RequestsMock() as mock:
        mock.get(f"{base}/cgi-bin/token", json={"access_token": "ACCESS_TOKEN_1", "expires_in": 7200})
        mock.get(f"{base}/cgi-bin/ticket/getticket",
                 json={"errcode": 0, "errmsg": "ok", "ticket": TICKET, "expires_in": 7200})
        bodies = [client.get(URL, query_string={"url": f"{H5}/bills"}).json for _ in range(3)]
        assert len(mock.calls) == 2  # one token, one ticket: the next pages use the cache
    for body in bodies:
        assert body["signature"] == expected(TICKET, body["nonceStr"], body["timestamp"], f"{H5}/bills")


def test_wechat_unavailable_is_503_not_500(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", H5)
    base = app.config["WECHAT_API_BASE"]
    with responses.RequestsMock() as mock:
        mock.get(f"{base}/cgi-bin/token", json={"errcode": -1, "errmsg": "system error"})
        response = client.get(URL, query_string={"url": f"{H5}/bills"})
    assert response.status_code == 503 and response.json["code"] == "wechat_unavailable"


def test_redis_down_is_503_not_500(app, client, monkeypatch):
    from patient_api.extensions import redis

    from .factories import DeadRedis
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", H5)
    monkeypatch.setattr(redis, "_client", DeadRedis())
    assert client.get(URL, query_string={"url": f"{H5}/bills"}).status_code == 503
