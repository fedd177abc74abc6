"""Sign-in: dev login, WeChat OAuth against recorded responses, sessions in Redis."""
import json

import pytest
import responses

from patient_api.common.auth import _key

OAUTH_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"


def test_dev_login_issues_a_working_token(client, make):
    headers = make.login("o-dev-1")
    assert client.get("/api/v1/me/patients", headers=headers).status_code == 200


def test_dev_login_is_404_when_switched_off(app, client):
    app.config["DEV_LOGIN"] = False
    try:
        response = client.post("/api/v1/auth/dev-login", json={"openid": "x"})
        assert response.status_code == 404 and response.json["code"] == "not_found"
    finally:
        app.config["DEV_LOGIN"] = True


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_protected_endpoints_need_a_session(client, headers):
    response = client.get("/api/v1/me/patients", headers=headers)
    assert response.status_code == 401 and response.json["code"] in ("unauthorized", "session_expired")


def test_logout_ends_the_session(client, make):
    headers = make.login()
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me/patients", headers=headers).status_code == 401


def test_idle_expiry_is_thirty_minutes_and_slides(client, make, redis_client):
    headers = make.login()
    key = _key(headers["Authorization"].split()[1])
    assert 1790 <= redis_client.ttl(key) <= 1800
    redis_client.expire(key, 5)
    client.get("/api/v1/me/patients", headers=headers)
    assert redis_client.ttl(key) > 1700  # used, so the idle clock restarted


def test_absolute_expiry_after_twelve_hours(client, make, redis_client):
    headers = make.login()
    key = _key(headers["Authorization"].split()[1])
    redis_client.hset(key, "created", int(redis_client.hget(key, "created")) - 12 * 3600 - 1)
    response = client.get("/api/v1/me/patients", headers=headers)
    assert response.status_code == 401 and response.json["code"] == "session_expired"


@responses.activate
def test_wechat_code_exchange_creates_account_and_keeps_unionid(client, app):
    responses.get(OAUTH_URL, json={"access_token": "ACCESS", "expires_in": 7200, "refresh_token": "REFRESH",
                                   "openid": "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", "scope": "snsapi_base",
                                   "unionid": "o6_bmasdasdsad6_2sgVt7hMZOPfL"})
    response = client.post("/api/v1/auth/wechat", json={"code": "061xYZ"})
    assert response.status_code == 200 and response.json["expires_in"] == 1800
    sent = responses.calls[0].request
    assert "code=061xYZ" in sent.url and f"appid={app.config['WECHAT_APPID']}" in sent.url
    assert "grant_type=authorization_code" in sent.url
    from patient_api.accounts.models import Account
    from patient_api.extensions import db
    with app.app_context():
        account = db.session.query(Account).one()
        assert account.openid == "oLVPpjqs9BhvzwPj5A-vTYAX3GLc" and account.unionid.startswith("o6_bm")
    # Second login with the same openid: same account.
    client.post("/api/v1/auth/wechat", json={"code": "061xYZ2"})
    with app.app_context():
        assert db.session.query(Account).count() == 1


@responses.activate
def test_wechat_invalid_code_is_401(client):
    responses.get(OAUTH_URL, body=json.dumps({"errcode": 40029, "errmsg": "invalid code, rid: 6a1b2c3d"}))
    response = client.post("/api/v1/auth/wechat", json={"code": "used-code"})
    assert response.status_code == 401 and response.json["code"] == "wechat_code_invalid"


@responses.activate
def test_wechat_unreachable_is_502(client):
    import requests
    responses.get(OAUTH_URL, body=requests.ConnectionError("no route"))
    response = client.post("/api/v1/auth/wechat", json={"code": "abc"})
    assert response.status_code == 502 and response.json["code"] == "wechat_unavailable"


def test_sessions_unavailable_when_redis_is_down_is_503_not_500(client, make, monkeypatch):
    from patient_api.extensions import redis

    from .factories import DeadRedis
    headers = make.login()
    monkeypatch.setattr(redis, "_client", DeadRedis())
    response = client.get("/api/v1/me/patients", headers=headers)
    assert response.status_code == 503 and response.json["code"] == "service_unavailable"
