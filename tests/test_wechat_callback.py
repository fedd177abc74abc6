"""The official-account callback with WeChat's real message formats: signatures, safe mode, retries, the menu."""
import base64
import hashlib
import itertools
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import responses
import xmltodict
from prometheus_client import REGISTRY
from wechatpy.crypto import WeChatCrypto

from patient_api.billing.wechatpay.factory import bundle_key
from patient_api.extensions import redis
from patient_api.wechat import token

from .factories import DeadRedis

URL = "/api/v1/wechat/callback"
TOKEN = "pamtest2026callbacktoken"
APPID = "wx6f1c2b3a4d5e6f70"
H5 = "https://h5.health.example"
ACCOUNT = "gh_7f083739789a"  # the official account's original id (ToUserName)
_ids = itertools.count(24_000_000_000_000_000)


@pytest.fixture
def wechat(app, monkeypatch):
    """The account's callback settings, with an EncodingAESKey made here (43 characters, as WeChat shows it)."""
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    assert len(aes_key) == 43
    for name, value in (("WECHAT_TOKEN", TOKEN), ("WECHAT_APPID", APPID), ("WECHAT_ENCODING_AES_KEY", aes_key),
                        ("WECHAT_H5_BASE_URL", H5)):
        monkeypatch.setitem(app.config, name, value)
    return WeChatCrypto(TOKEN, aes_key, APPID)


def sha1_sorted(*parts):
    """WeChat's signature: sha1 of the parts sorted and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(content, sender="oLVPpjqs9BhvzwPj5A-vTYAX3GLc", msg_id=None, created=None):
    """A text message exactly as WeChat pushes it."""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or next(_ids)}</MsgId></xml>")


def event_xml(event, key=None, sender="oLVPpjqs9BhvzwPj5A-vTYAX3GLc", created=None):
    """An event push (subscribe, unsubscribe, CLICK…): no MsgId."""
    key_xml = "" if key is None else f"<EventKey><![CDATA[{key}]]></EventKey>"
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event>{key_xml}</xml>")


def plain_query(timestamp=None, nonce=None, token_=TOKEN):
    """signature/timestamp/nonce/openid as on a plaintext-mode push."""
    timestamp, nonce = str(timestamp or int(time.time())), nonce or f"{random.getrandbits(31)}"
    return {"signature": sha1_sorted(token_, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
            "openid": "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"}


def safe_delivery(crypto, xml, timestamp=None, nonce=None):
    """(query, body) of a safe-mode push: the message AES-encrypted, msg_signature over the ciphertext."""
    query = plain_query(timestamp, nonce)
    encrypt = xmltodict.parse(crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))["xml"]["Encrypt"]
    query.update(encrypt_type="aes", msg_signature=sha1_sorted(TOKEN, query["timestamp"], query["nonce"], encrypt))
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return query, body


def post_plain(client, xml, **query):
    """Deliver in plaintext mode."""
    return client.post(URL, query_string={**plain_query(), **query}, data=xml, content_type="text/xml")


def read_reply(response, crypto=None):
    """The reply's XML fields; in safe mode its MsgSignature is checked and it is decrypted first."""
    assert response.status_code == 200 and response.mimetype == "text/xml", response.data
    xml = response.get_data(as_text=True)
    if crypto is not None:
        outer = xmltodict.parse(xml)["xml"]
        assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
        xml = crypto.decrypt_message(xml, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    return xmltodict.parse(xml)["xml"]


def assert_text_reply(fields, to="oLVPpjqs9BhvzwPj5A-vTYAX3GLc"):
    """To/From swapped, a text reply with a current CreateTime."""
    assert fields["ToUserName"] == to and fields["FromUserName"] == ACCOUNT and fields["MsgType"] == "text"
    assert abs(int(fields["CreateTime"]) - time.time()) < 5


def handled():
    """The callbacks counter: messages handled (not retries)."""
    return REGISTRY.get_sample_value("patient_api_wechat_callbacks_total", {"outcome": "handled"}) or 0


# Server URL verification (GET) -------------------------------------------------------------------------------------


def test_get_verification_echoes_echostr_when_signed_with_our_token(client, wechat):
    response = client.get(URL, query_string={**plain_query(), "echostr": "5927193446537781742"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "5927193446537781742"
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize("query", [
    {**plain_query(token_="someone-elses-token"), "echostr": "1"},
    {"timestamp": "1700000000", "nonce": "1", "echostr": "1"},
    {"echostr": "1"},
])
def test_get_verification_with_a_wrong_or_missing_signature_is_403(client, wechat, query):
    response = client.get(URL, query_string=query)
    assert response.status_code == 403 and response.mimetype == "text/plain" and b"1" not in response.data


# Plaintext mode ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, path", [
    ("挂号", "/booking"), ("我想预约明天的专家号", "/booking"), ("报告", "/reports"), ("检验结果出来了吗", "/reports"),
    ("检查", "/reports"), ("缴费", "/bills"), ("怎么支付", "/bills"), ("账单", "/bills"), ("住院", "/inpatient"),
    ("押金还剩多少", "/inpatient"), ("预交金", "/inpatient"), ("住院缴费", "/inpatient"), ("检查缴费", "/bills"),
])
def test_keywords_answer_with_the_link_into_their_page(client, wechat, content, path):
    fields = read_reply(post_plain(client, text_xml(content)))
    assert_text_reply(fields)
    assert f'href="{H5}{path}"' in fields["Content"]


def test_anything_else_gets_a_helpful_default_listing_every_service(client, wechat):
    fields = read_reply(post_plain(client, text_xml("你好，请问医院几点开门？")))
    assert_text_reply(fields)
    for path in ("/booking", "/reports", "/bills", "/inpatient"):
        assert f'href="{H5}{path}"' in fields["Content"]


def test_subscribe_is_welcomed_with_links(client, wechat):
    fields = read_reply(post_plain(client, event_xml("subscribe", key="")))
    assert_text_reply(fields)
    assert "感谢关注" in fields["Content"] and f'href="{H5}/booking"' in fields["Content"]
    # Subscribing by scanning a hospital's QR code (qrscene_…) is welcomed the same way.
    fields = read_reply(post_plain(client, event_xml("subscribe", key="qrscene_hospital_H1", sender="oScan")))
    assert "感谢关注" in fields["Content"] and fields["ToUserName"] == "oScan"


@pytest.mark.parametrize("key, path", [("BOOK", "/booking"), ("REPORTS", "/reports"), ("BILLS", "/bills"),
                                       ("INPATIENT", "/inpatient")])
def test_menu_clicks_answer_with_their_page(client, wechat, key, path):
    fields = read_reply(post_plain(client, event_xml("CLICK", key=key)))
    assert_text_reply(fields)
    assert f'href="{H5}{path}"' in fields["Content"]


@pytest.mark.parametrize("key", ["HELP", "SOMETHING_OLD"])
def test_help_and_unknown_clicks_get_the_default(client, wechat, key):
    content = read_reply(post_plain(client, event_xml("CLICK", key=key)))["Content"]
    assert all(f'href="{H5}{path}"' in content for path in ("/booking", "/reports", "/bills", "/inpatient"))


@pytest.mark.parametrize("xml", [event_xml("unsubscribe"), event_xml("VIEW", key=f"{H5}/booking"),
                                 event_xml("TEMPLATESENDJOBFINISH")])
def test_unsubscribe_and_other_events_are_answered_success_and_nothing_personal_is_kept(
        client, wechat, redis_client, xml):
    response = post_plain(client, xml)
    assert response.status_code == 200 and response.data == b"success"
    # The retry marker only (an unfollow also queues a worker job, which records it on the account; the pay sandbox's
    # key bundle is kept between tests by conftest).
    kept = [k.decode() for k in redis_client.keys("*")
            if not k.startswith((b"patient_api:", b"rq:")) and k != bundle_key().encode()]
    assert all(k.startswith(f"wechat:{APPID}:seen:") for k in kept) and len(kept) == 1
    from patient_api.accounts.models import Account
    from patient_api.common.outbox import OutboxMessage
    from patient_api.extensions import db
    with client.application.app_context():
        assert db.session.query(Account).count() == 0 and db.session.query(OutboxMessage).count() == 0


def test_an_image_gets_the_default(client, wechat):
    xml = text_xml("x").replace("<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x]]></Content>",
                                "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl>"
                                "<MediaId><![CDATA[media_id]]></MediaId>")
    assert f'href="{H5}/bills"' in read_reply(post_plain(client, xml))["Content"]


@pytest.mark.parametrize("query", [
    plain_query(token_="someone-elses-token"),
    {**plain_query(), "signature": "0" * 40},
    {"timestamp": str(int(time.time())), "nonce": "42"},
])
def test_plaintext_with_a_bad_signature_is_403_and_not_handled(client, wechat, query):
    before = handled()
    response = client.post(URL, query_string=query, data=text_xml("挂号"), content_type="text/xml")
    assert response.status_code == 403 and response.mimetype == "text/plain" and handled() == before


@pytest.mark.parametrize("skew", [-301, -3600, 330])  # a future stamp nears "now" as the request runs
def test_a_stale_or_future_timestamp_is_refused_even_when_signed(client, wechat, skew):
    query = plain_query(timestamp=int(time.time()) + skew)
    assert post_plain(client, text_xml("挂号"), **query).status_code == 403


@pytest.mark.parametrize("body", [
    "", "not xml at all", "<xml>", "<xml></xml>", "<xml>text</xml>", "<root><MsgType>text</MsgType></root>",
    "<xml><MsgType><![CDATA[text]]></MsgType><Content>hi</Content></xml>",  # no FromUserName/ToUserName
    text_xml("挂号").replace("<MsgId>", "<MsgId>abc"),
    event_xml("CLICK", key="BOOK").replace("<CreateTime>", "<CreateTime>soon"),
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><MsgType>&lol2;</MsgType></xml>",
    "\udcff".encode("utf-8", "surrogatepass") + b"\xff\xfe",
])
def test_garbage_bodies_are_400_never_500(client, wechat, body):
    response = post_plain(client, body)
    assert response.status_code == 400 and response.mimetype == "text/plain", response.data


# Safe mode ---------------------------------------------------------------------------------------------------------


def test_safe_mode_is_decrypted_and_answered_encrypted(client, wechat):
    query, body = safe_delivery(wechat, text_xml("我要缴费", sender="oSafeMode01"))
    fields = read_reply(client.post(URL, query_string=query, data=body, content_type="text/xml"), crypto=wechat)
    assert_text_reply(fields, to="oSafeMode01")
    assert f'href="{H5}/bills"' in fields["Content"]


def test_safe_mode_subscribe_and_click(client, wechat):
    query, body = safe_delivery(wechat, event_xml("subscribe", key=""))
    assert "感谢关注" in read_reply(client.post(URL, query_string=query, data=body), crypto=wechat)["Content"]
    query, body = safe_delivery(wechat, event_xml("CLICK", key="INPATIENT", sender="oOther"))
    fields = read_reply(client.post(URL, query_string=query, data=body), crypto=wechat)
    assert fields["ToUserName"] == "oOther" and f'href="{H5}/inpatient"' in fields["Content"]


def test_safe_mode_with_a_bad_msg_signature_is_403(client, wechat):
    query, body = safe_delivery(wechat, text_xml("挂号"))
    for bad in ("0" * 40, "", query["signature"]):  # the plain signature does not cover the ciphertext
        response = client.post(URL, query_string={**query, "msg_signature": bad}, data=body)
        assert response.status_code == 403
    # Ciphertext swapped for another message: the msg_signature no longer matches.
    _, other = safe_delivery(wechat, text_xml("住院"))
    assert client.post(URL, query_string=query, data=other).status_code == 403


def test_safe_mode_from_another_account_is_not_decrypted(client, wechat):
    stranger = WeChatCrypto(TOKEN, base64.b64encode(os.urandom(32)).decode().rstrip("="), APPID)
    query, body = safe_delivery(stranger, text_xml("挂号"))  # our token, someone else's AES key
    assert client.post(URL, query_string=query, data=body).status_code == 400


@pytest.mark.parametrize("encrypt", ["bm90IHJlYWxseSBlbmNyeXB0ZWQ=", "!!!", "QUJD" * 7])
def test_safe_mode_undecryptable_ciphertext_is_400(client, wechat, encrypt):
    query = plain_query()
    query.update(encrypt_type="aes", msg_signature=sha1_sorted(TOKEN, query["timestamp"], query["nonce"], encrypt))
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    assert client.post(URL, query_string=query, data=body).status_code == 400


def test_safe_mode_without_an_encoding_aes_key_configured_is_503(client, wechat, app, monkeypatch):
    query, body = safe_delivery(wechat, text_xml("挂号"))
    monkeypatch.setitem(app.config, "WECHAT_ENCODING_AES_KEY", None)
    assert client.post(URL, query_string=query, data=body).status_code == 503


# Retries -----------------------------------------------------------------------------------------------------------


def test_a_retried_message_is_handled_once_and_answered_alike(client, wechat):
    xml, before = text_xml("挂号"), handled()
    first, second, third = (post_plain(client, xml) for _ in range(3))  # WeChat's retries: new nonce, same body
    # A retry means WeChat never got our answer: it gets the same reply again, and the work is not redone.
    assert first.mimetype == "text/xml" and first.data == second.data == third.data
    assert f'href="{H5}/booking"' in read_reply(third)["Content"]
    assert handled() == before + 1


def test_retried_events_are_keyed_by_sender_and_create_time(client, wechat):
    created = int(time.time())
    before = handled()
    replies = [post_plain(client, event_xml("CLICK", key="BOOK", created=created)) for _ in range(2)]
    assert replies[0].mimetype == "text/xml" and replies[1].data == replies[0].data and handled() == before + 1
    # Another second, or another user in the same second, is another event.
    assert post_plain(client, event_xml("CLICK", key="BOOK", created=created + 1)).mimetype == "text/xml"
    assert post_plain(client, event_xml("CLICK", key="BOOK", sender="oB", created=created)).mimetype == "text/xml"


def test_a_retry_in_the_other_mode_is_still_a_retry(client, wechat):
    xml = text_xml("报告")
    query, body = safe_delivery(wechat, xml)
    before = handled()
    first = read_reply(client.post(URL, query_string=query, data=body), crypto=wechat)
    assert read_reply(post_plain(client, xml)) == first and handled() == before + 1


def test_a_failed_reply_is_503_and_the_retry_does_the_work(client, wechat, monkeypatch):
    from patient_api.wechat import replies
    real, calls = replies.reply_to, []

    def flaky(message):
        calls.append(message)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(message)
    monkeypatch.setattr(replies, "reply_to", flaky)
    xml = text_xml("挂号")
    assert post_plain(client, xml).status_code == 503
    assert f'href="{H5}/booking"' in read_reply(post_plain(client, xml))["Content"]


def test_redis_down_still_answers(client, wechat, monkeypatch):
    monkeypatch.setattr(redis, "_client", DeadRedis())
    assert f'href="{H5}/reports"' in read_reply(post_plain(client, text_xml("报告")))["Content"]


def test_burst_of_1000_messages_delivered_3_times_each_is_handled_1000_times(app, wechat):
    """16 threads, every message sent three times in shuffled order (half in safe mode, half events)."""
    now = int(time.time())
    messages = []
    for n in range(1000):
        xml = (text_xml(random.choice(["挂号", "报告", "缴费", "住院", "你好"]), sender=f"oBurst{n % 97}")
               if n % 2 else event_xml("CLICK", key="BILLS", sender=f"oBurst{n}", created=now))
        messages.append((n, xml, n % 4 >= 2))
    deliveries = [message for message in messages for _ in range(3)]
    random.shuffle(deliveries)
    before, started = handled(), time.perf_counter()

    def deliver(delivery):
        n, xml, safe = delivery
        client = app.test_client()
        if safe:
            query, body = safe_delivery(wechat, xml)
            response = client.post(URL, query_string=query, data=body, content_type="text/xml")
        else:
            response = client.post(URL, query_string=plain_query(), data=xml, content_type="text/xml")
        return n, response.status_code, response.data
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(deliver, deliveries))
    elapsed = time.perf_counter() - started
    assert len(answers) == 3000 and all(status == 200 for _, status, _ in answers)
    # Every message got its reply; a retry racing the first delivery (reply not made yet) gets "success".
    assert {n for n, _, data in answers if data != b"success"} == set(range(1000))
    assert handled() - before == 1000
    print(f"burst: 3000 deliveries of 1000 messages in {elapsed:.2f}s, handled {handled() - before}")


# The custom menu ---------------------------------------------------------------------------------------------------


@pytest.fixture
def menu_api(app, monkeypatch):
    """WeChat's /cgi-bin/menu/create, with the shared access_token stubbed (token.py has its own tests)."""
    tokens = iter(["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"])
    monkeypatch.setattr(token, "access_token", lambda force=False: next(tokens))
    monkeypatch.setattr(token, "invalidate", lambda kind, value: True)
    with responses.RequestsMock() as mock:
        yield mock, app.config["WECHAT_API_BASE"] + "/cgi-bin/menu/create"


def test_cli_creates_the_menu(app, wechat, menu_api):
    import json
    mock, url = menu_api
    mock.post(url, json={"errcode": 0, "errmsg": "ok"})
    result = app.test_cli_runner().invoke(args=["wechat", "menu", "create"])
    assert result.exit_code == 0 and "menu created" in result.output
    sent = mock.calls[0].request
    assert "access_token=ACCESS_TOKEN_1" in sent.url
    menu = json.loads(sent.body)
    names = [b["name"] for b in menu["button"]]
    assert names == ["预约挂号", "报告查询", "就医服务"]
    subs = menu["button"][2]["sub_button"]
    assert {"type": "click", "name": "使用帮助", "key": "HELP"} in subs
    assert "redirect_uri=https%3A%2F%2Fh5.health.example%2Fbooking" in menu["button"][0]["url"]
    assert menu["button"][0]["url"].startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=" + APPID)


def test_cli_menu_retries_once_on_an_expired_token_and_reports_errors(app, wechat, menu_api):
    mock, url = menu_api
    mock.post(url, json={"errcode": 42001, "errmsg": "access_token expired rid: 6650a1b4-3e4f5a6b"})
    mock.post(url, json={"errcode": 0, "errmsg": "ok"})
    assert app.test_cli_runner().invoke(args=["wechat", "menu", "create"]).exit_code == 0
    assert "access_token=ACCESS_TOKEN_2" in mock.calls[1].request.url


def test_cli_menu_error_is_reported_without_the_token(app, wechat, menu_api):
    mock, url = menu_api
    mock.post(url, json={"errcode": 40018, "errmsg": "invalid button name size"})
    result = app.test_cli_runner().invoke(args=["wechat", "menu", "create"])
    assert result.exit_code == 1 and "40018" in result.output and "ACCESS_TOKEN" not in result.output


def test_cli_menu_dry_run_calls_nothing(app, wechat):
    result = app.test_cli_runner().invoke(args=["wechat", "menu", "create", "--dry-run"])
    assert result.exit_code == 0 and '"key": "HELP"' in result.output
