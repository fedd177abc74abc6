"""WeChat OAuth end to end: the authorize URL, then the code exchange against recorded WeChat answers."""
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from patient_api.accounts.models import Account
from patient_api.extensions import db

API = "https://api.weixin.qq.com"
H5 = "https://h5.health.example"
OPENID = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"
UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"
# Recorded shapes of api.weixin.qq.com answers (tokens shortened).
BASE_TOKEN = {"access_token": "ACCESS_BASE", "expires_in": 7200, "refresh_token": "REFRESH", "openid": OPENID,
              "scope": "snsapi_base", "is_snapshotuser": 0, "unionid": UNIONID}
USERINFO_TOKEN = {"access_token": "ACCESS_INFO", "expires_in": 7200, "refresh_token": "REFRESH", "openid": OPENID,
                  "scope": "snsapi_userinfo"}
USERINFO = {"openid": OPENID, "nickname": "张小英", "sex": 0, "language": "", "city": "", "province": "",
            "country": "", "headimgurl": "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24Z"
                                         "EaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132",
            "privilege": [], "unionid": UNIONID}


@pytest.fixture
def h5(app, monkeypatch):
    """The H5 site the OAuth redirect lands on."""
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", H5)
    monkeypatch.setitem(app.config, "WECHAT_APPID", "wx6f1c2b3a4d5e6f70")


@pytest.fixture
def wechat_api():
    """In-process fake of api.weixin.qq.com."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def accounts(app):
    """(openid, unionid) of every account."""
    with app.app_context():
        return [(a.openid, a.unionid) for a in db.session.query(Account).order_by(Account.created_at)]


def login(client, code):
    """POST /auth/wechat."""
    return client.post("/api/v1/auth/wechat", json={"code": code})


# The authorize URL ---------------------------------------------------------------------------------------------


def test_authorize_url_is_silent_snsapi_base_by_default(client, h5):
    response = client.get("/api/v1/auth/wechat/authorize-url", query_string={"redirect": "/booking"})
    assert response.status_code == 200
    url = urlsplit(response.json["url"])
    assert (url.scheme, url.netloc, url.path, url.fragment) == (
        "https", "open.weixin.qq.com", "/connect/oauth2/authorize", "wechat_redirect")
    assert parse_qs(url.query) == {"appid": ["wx6f1c2b3a4d5e6f70"], "redirect_uri": [f"{H5}/booking"],
                                   "response_type": ["code"], "scope": ["snsapi_base"]}
    # WeChat wants the parameters in this order.
    assert url.query.startswith("appid=wx6f1c2b3a4d5e6f70&redirect_uri=https%3A%2F%2Fh5.health.example%2Fbooking&")


def test_authorize_url_for_snsapi_userinfo_with_state_and_a_query(client, h5):
    response = client.get("/api/v1/auth/wechat/authorize-url", query_string={
        "scope": "snsapi_userinfo", "state": "r8Kq2", "redirect": "/reports?hospital=H1"})
    query = parse_qs(urlsplit(response.json["url"]).query)
    assert query["scope"] == ["snsapi_userinfo"] and query["state"] == ["r8Kq2"]
    assert query["redirect_uri"] == [f"{H5}/reports?hospital=H1"]


@pytest.mark.parametrize("query", [
    {"redirect": "https://evil.example/steal"}, {"redirect": "//evil.example/x"}, {"redirect": "/\\evil.example"},
    {"redirect": "booking"}, {"redirect": "/booking#x"}, {"scope": "snsapi_login"}, {"state": "a b"},
    {"state": "x" * 129}, {"unknown": "1"},
])
def test_authorize_url_refuses_other_hosts_scopes_and_bad_state(client, h5, query):
    response = client.get("/api/v1/auth/wechat/authorize-url", query_string=query)
    assert response.status_code == 422 and response.json["code"] == "validation_error"


# The code exchange ---------------------------------------------------------------------------------------------


def test_first_login_creates_the_account_and_the_second_reuses_it_updating_the_unionid(client, app, wechat_api):
    wechat_api.get(f"{API}/sns/oauth2/access_token", json=BASE_TOKEN)
    wechat_api.get(f"{API}/sns/oauth2/access_token", json={**BASE_TOKEN, "unionid": "o6_bmNEWUNIONID000000000000"})
    first = login(client, "061aBcD")
    assert first.status_code == 200 and accounts(app) == [(OPENID, UNIONID)]
    second = login(client, "061aBcE")
    assert second.status_code == 200 and second.json["token"] != first.json["token"]
    assert accounts(app) == [(OPENID, "o6_bmNEWUNIONID000000000000")]
    sent = parse_qs(urlsplit(wechat_api.calls[0].request.url).query)
    assert sent["grant_type"] == ["authorization_code"] and sent["code"] == ["061aBcD"]
    # Only the code exchange: snsapi_base never asks for userinfo.
    assert all("/sns/userinfo" not in call.request.url for call in wechat_api.calls)
    assert wechat_api.calls[0].request.req_kwargs["timeout"] == (3, 10)


def test_a_login_without_unionid_keeps_the_one_we_have(client, app, wechat_api):
    wechat_api.get(f"{API}/sns/oauth2/access_token", json=BASE_TOKEN)
    wechat_api.get(f"{API}/sns/oauth2/access_token", json={k: v for k, v in BASE_TOKEN.items() if k != "unionid"})
    login(client, "c1")
    assert login(client, "c2").status_code == 200 and accounts(app) == [(OPENID, UNIONID)]


def test_snsapi_userinfo_fetches_userinfo_and_keeps_only_openid_and_unionid(client, app, wechat_api):
    wechat_api.get(f"{API}/sns/oauth2/access_token", json=USERINFO_TOKEN)
    wechat_api.get(f"{API}/sns/userinfo", json=USERINFO)
    response = login(client, "071xYz")
    assert response.status_code == 200 and accounts(app) == [(OPENID, UNIONID)]
    sent = parse_qs(urlsplit(wechat_api.calls[1].request.url).query)
    assert sent == {"access_token": ["ACCESS_INFO"], "openid": [OPENID], "lang": ["zh_CN"]}
    with app.app_context():  # nickname and avatar are nowhere in the account row
        row = db.session.query(Account).one()
        stored = " ".join(str(getattr(row, column.key)) for column in Account.__table__.columns)
        assert "张小英" not in stored and "qlogo" not in stored


@pytest.mark.parametrize("userinfo", [
    {"json": {"errcode": 48001, "errmsg": "api unauthorized rid: 6650a1b9-8d9e0f1a"}},
    {"json": {**USERINFO, "openid": "oSomeoneElse"}},
    {"body": ConnectionError("reset")},
])
def test_snsapi_userinfo_trouble_still_signs_in_by_openid(client, app, wechat_api, userinfo):
    wechat_api.get(f"{API}/sns/oauth2/access_token", json=USERINFO_TOKEN)
    wechat_api.get(f"{API}/sns/userinfo", **userinfo)
    assert login(client, "071xYz").status_code == 200 and accounts(app) == [(OPENID, None)]


def test_used_or_invalid_code_is_401_wechat_code_invalid(client, app, wechat_api):
    wechat_api.get(f"{API}/sns/oauth2/access_token", json={"errcode": 40029, "errmsg": "invalid code, rid: 6a1b2c3d"})
    response = login(client, "used")
    assert response.status_code == 401 and response.json["code"] == "wechat_code_invalid" and accounts(app) == []


def test_oauth_goes_to_the_configured_api_base(client, app, wechat_api, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://wechat-proxy.internal:8080")
    wechat_api.get("http://wechat-proxy.internal:8080/sns/oauth2/access_token", json=BASE_TOKEN)
    assert login(client, "c").status_code == 200
