"""WeChat Pay v3 adapter: crypto, notifications, JSAPI params, sandbox, trade bills, LiveClient over `responses`.

Plain unit tests: no Flask app, no database. Keys are generated per module with generate_test_keys().
"""
import base64
import gzip
import hashlib
import json
import re
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from patient_api.billing.wechatpay import (
    BadSignature,
    DictStore,
    LiveClient,
    NotificationError,
    PayClient,
    PayError,
    RedisStore,
    SandboxClient,
    WechatPaySettings,
    aead_decrypt,
    aead_encrypt,
    build_client,
    build_notification,
    generate_test_keys,
    jsapi_pay_params,
    parse_trade_bill,
    parse_trade_bill_summary,
    refund_resource,
    render_trade_bill,
    settings_from_keys,
    sign_message,
    transaction_resource,
    verify_notification,
    verify_signature,
)
from patient_api.billing.wechatpay.bill import HEADER, SUMMARY_HEADER, yuan
from patient_api.billing.wechatpay.notify import sign_headers

GATEWAY = "https://api.mch.weixin.qq.com"
CST = timezone(timedelta(hours=8))
SIGNATURE_HEADERS = ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial")
fuzz = settings(max_examples=150, deadline=None, database=None)


@pytest.fixture(autouse=True)
def clean():
    """Overrides conftest's autouse `clean`: these tests need neither the app nor its database."""
    yield


@pytest.fixture(scope="module")
def keys():
    """Fresh test-only key material for this module."""
    return generate_test_keys()


@pytest.fixture(scope="module")
def wx(keys):
    """Sandbox-mode settings wired to the test keys."""
    return settings_from_keys(keys)


def notification(wx, keys, now, event="TRANSACTION.SUCCESS", resource=None):
    """A genuine notification built with the test platform key."""
    resource = resource or transaction_resource(wx, "ORDER-0001", "4200000001", 1500, "o-payer", success_time=now)
    return build_notification(wx, keys["platform_private_key_pem"], event, resource, now)


def signed(wx, keys, body, now):
    """Correct signature headers for an arbitrary body, to reach the checks after the signature."""
    return sign_headers(wx, keys["platform_private_key_pem"], body, now)


def envelope(algorithm="AEAD_AES_256_GCM", ciphertext="AAAA", nonce="abcdefghijkl"):
    """A notification body with a chosen resource."""
    resource = {"original_type": "transaction", "algorithm": algorithm, "ciphertext": ciphertext,
                "associated_data": "transaction", "nonce": nonce}
    return json.dumps({"id": "EV-1", "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
                       "resource": resource}).encode()


def error_code(call):
    """The NotificationError code a call raises."""
    with pytest.raises(NotificationError) as caught:
        call()
    return caught.value.code


# -- crypto --------------------------------------------------------------------------------------------------------
def test_signatures_verify_only_for_the_signed_message_and_key(keys):
    signature = sign_message(keys["merchant_private_key_pem"], "GET\n/v3/x\n1\nN\n\n")
    assert verify_signature(keys["merchant_public_key_pem"], "GET\n/v3/x\n1\nN\n\n", signature)
    assert not verify_signature(keys["merchant_public_key_pem"], "GET\n/v3/y\n1\nN\n\n", signature)
    assert not verify_signature(keys["platform_public_key_pem"], "GET\n/v3/x\n1\nN\n\n", signature)
    assert not verify_signature(keys["merchant_public_key_pem"], "m", "not base64!")
    assert not verify_signature(keys["merchant_public_key_pem"], "m", "签名")


def test_aead_round_trip_and_authentication(keys):
    sealed = aead_encrypt(keys["apiv3_key"], "0123456789ab", "就诊".encode(), "transaction")
    assert aead_decrypt(keys["apiv3_key"], "0123456789ab", sealed, "transaction") == "就诊".encode()
    for key, nonce, data, ad in [("x" * 32, "0123456789ab", sealed, "transaction"),
                                 (keys["apiv3_key"], "0123456789ab", sealed, "refund"),
                                 (keys["apiv3_key"], "0123456789ab", "%%%", "transaction"),
                                 (keys["apiv3_key"], "0123456789ab", base64.b64encode(b"short").decode(), "")]:
        with pytest.raises(ValueError):
            aead_decrypt(key, nonce, data, ad)


# -- notifications ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("event", ["TRANSACTION.SUCCESS", "REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"])
def test_built_notifications_verify_and_decrypt(wx, keys, event):
    now = time.time()
    if event.startswith("REFUND"):
        resource = refund_resource(wx, "ORDER-0001", "REFUND-0001", "5030000001", 500, 1500,
                                   refund_status=event.split(".")[1], transaction_id="4200000001", success_time=now)
    else:
        resource = transaction_resource(wx, "ORDER-0001", "4200000001", 1500, "o-payer", success_time=now)
    headers, body = notification(wx, keys, now, event, resource)
    result = verify_notification(wx, headers, body, now)
    assert result["event_type"] == event
    assert result["resource_type"] == "encrypt-resource"
    assert result["resource"] == resource
    outer = json.loads(body)
    assert outer["resource"]["original_type"] == outer["resource"]["associated_data"] == event.split(".")[0].lower()
    assert len(outer["resource"]["nonce"]) == 12 and outer["create_time"].endswith("+08:00")
    assert headers["Wechatpay-Serial"] == wx.platform_public_key_id


def test_transaction_resource_uses_wechat_field_names(wx):
    resource = transaction_resource(wx, "ORDER-0001", "4200000001", 1500, "o-payer", success_time=0)
    assert resource["amount"] == {"total": 1500, "payer_total": 1500, "currency": "CNY", "payer_currency": "CNY"}
    assert resource["success_time"] == "1970-01-01T08:00:00+08:00"
    assert {"mchid", "appid", "trade_type", "trade_state_desc", "bank_type", "payer"} <= resource.keys()


@pytest.mark.parametrize("fold", [str.lower, str.upper, lambda name: name])
def test_header_names_are_case_insensitive(wx, keys, fold):
    now = time.time()
    headers, body = notification(wx, keys, now)
    assert verify_notification(wx, {fold(k): v for k, v in headers.items()}, body, now)["id"]


def test_rejections_carry_the_right_code(wx, keys):
    now = float(int(time.time()))  # whole seconds, so "exactly 300 s" below is exact
    headers, body = notification(wx, keys, now)
    tampered = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESs"')
    bad_sig = {**headers, "Wechatpay-Signature": sign_message(keys["merchant_private_key_pem"], "x")}
    assert error_code(lambda: verify_notification(wx, headers, tampered, now)) == "bad_signature"
    assert error_code(lambda: verify_notification(wx, bad_sig, body, now)) == "bad_signature"
    wrong_serial = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}
    with pytest.raises(BadSignature) as caught:  # unknown_serial is a kind of bad signature
        verify_notification(wx, wrong_serial, body, now)
    assert caught.value.code == "unknown_serial"
    assert error_code(lambda: verify_notification(wx, headers, body, now + 301)) == "stale_timestamp"
    assert error_code(lambda: verify_notification(wx, headers, body, now - 301)) == "stale_timestamp"
    assert verify_notification(wx, headers, body, now + 300)["event_type"] == "TRANSACTION.SUCCESS"
    assert error_code(lambda: verify_notification(replace(wx, apiv3_key="k" * 32), headers, body, now)) \
        == "bad_notification"
    assert error_code(lambda: verify_notification(wx, headers, body, float("nan"))) == "stale_timestamp"


@pytest.mark.parametrize("missing", SIGNATURE_HEADERS)
def test_missing_signature_headers_are_bad_signatures(wx, keys, missing):
    now = time.time()
    headers, body = notification(wx, keys, now)
    del headers[missing]
    assert error_code(lambda: verify_notification(wx, headers, body, now)) == "bad_signature"


@pytest.mark.parametrize("name, value", [("Wechatpay-Timestamp", "12a"), ("Wechatpay-Timestamp", "²"),
                                         ("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3")])
def test_malformed_signature_headers_are_bad_signatures(wx, keys, name, value):
    now = time.time()
    headers, body = notification(wx, keys, now)
    assert error_code(lambda: verify_notification(wx, {**headers, name: value}, body, now)) == "bad_signature"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "x"}', envelope(algorithm="AEAD_AES_128_GCM"),
                                  envelope(ciphertext="%%%"), envelope(nonce="short"), b"\xff\xfe", b"[" * 100000,
                                  envelope(ciphertext=base64.b64encode(b"x" * 40).decode())])
def test_signed_but_malformed_bodies_are_bad_notifications(wx, keys, body):
    now = time.time()
    assert error_code(lambda: verify_notification(wx, signed(wx, keys, body, now), body, now)) == "bad_notification"


def test_resource_that_is_not_a_json_object_is_refused(wx, keys):
    now = time.time()
    sealed = aead_encrypt(wx.apiv3_key, "abcdefghijkl", b"[1, 2]", "transaction")
    body = envelope(ciphertext=sealed)
    assert error_code(lambda: verify_notification(wx, signed(wx, keys, body, now), body, now)) == "bad_notification"


header_names = st.sampled_from([*SIGNATURE_HEADERS, "wechatpay-serial", "WECHATPAY-NONCE", "Content-Type"]) | st.text()


@fuzz
@given(headers=st.dictionaries(header_names, st.text()), body=st.binary())
def test_fuzz_arbitrary_headers_and_bodies_only_raise_notification_errors(wx, headers, body):
    with pytest.raises(NotificationError):
        verify_notification(wx, headers, body, time.time())


@fuzz
@given(body=st.binary())
def test_fuzz_correctly_signed_garbage_is_a_bad_notification(wx, keys, body):
    now = time.time()
    assert error_code(lambda: verify_notification(wx, signed(wx, keys, body, now), body, now)) == "bad_notification"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3))


@fuzz
@given(outer=st.dictionaries(st.sampled_from(["id", "event_type", "resource", "resource_type"]), json_values),
       resource=st.dictionaries(st.sampled_from(["algorithm", "ciphertext", "nonce", "associated_data"]),
                                json_values | st.just("AEAD_AES_256_GCM")))
def test_fuzz_signed_json_envelopes_only_raise_notification_errors(wx, keys, outer, resource):
    now = time.time()
    body = json.dumps({**outer, "resource": resource} if "resource" in outer else outer).encode()
    with pytest.raises(NotificationError):
        verify_notification(wx, signed(wx, keys, body, now), body, now)


@fuzz
@given(data=st.data())
def test_fuzz_any_single_byte_change_is_refused(wx, keys, data):
    now = time.time()
    headers, body = notification(wx, keys, now)
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = body[:index] + bytes([body[index] ^ data.draw(st.integers(1, 255))]) + body[index + 1:]
    assert error_code(lambda: verify_notification(wx, headers, flipped, now)) == "bad_signature"


# -- JSAPI -----------------------------------------------------------------------------------------------------------
def test_jsapi_pay_sign_verifies_with_the_merchant_public_key(wx, keys):
    params = jsapi_pay_params(wx, "wx201410272009395522657a690389285100", 1795000000.7, nonce="5K8264ILTKCH16CQ2502")
    assert params["timeStamp"] == "1795000000" and params["signType"] == "RSA"
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    message = f"{wx.appid}\n1795000000\n5K8264ILTKCH16CQ2502\nprepay_id=wx201410272009395522657a690389285100\n"
    assert verify_signature(keys["merchant_public_key_pem"], message, params["paySign"])
    assert len(jsapi_pay_params(wx, "wx1", time.time())["nonceStr"]) == 32


# -- settings --------------------------------------------------------------------------------------------------------
def test_settings_from_config_reads_pem_text_or_files(keys, tmp_path):
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(keys["merchant_private_key_pem"])
    config = {"WECHATPAY_MODE": "live", "WECHATPAY_MCHID": "1230000109", "WECHAT_APPID": "wxd678efh567hg6787",
              "WECHATPAY_APIV3_KEY": keys["apiv3_key"], "WECHATPAY_PRIVATE_KEY": str(key_file),
              "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A72",
              "WECHATPAY_PUBLIC_KEY": keys["platform_public_key_pem"].replace("\n", "\\n"),
              "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0112", "WECHATPAY_NOTIFY_URL": "https://x.cn/notify"}
    loaded = WechatPaySettings.from_config(config)
    assert loaded.is_live and loaded.merchant_private_key_pem == keys["merchant_private_key_pem"]
    assert loaded.platform_public_key_pem == keys["platform_public_key_pem"]
    assert keys["apiv3_key"] not in repr(loaded) and "PRIVATE" not in repr(loaded)
    with pytest.raises(ValueError, match="WECHATPAY_PUBLIC_KEY_ID"):
        WechatPaySettings.from_config({**config, "WECHATPAY_PUBLIC_KEY_ID": ""})
    with pytest.raises(ValueError):
        WechatPaySettings.from_config({**config, "WECHATPAY_PRIVATE_KEY": str(tmp_path / "missing.pem")})


def test_settings_validate_mode_and_key_length(wx):
    sandbox = WechatPaySettings.from_config({})
    assert sandbox.mode == "sandbox" and sandbox.mchid and sandbox.notify_url.endswith("/wechatpay/notify")
    with pytest.raises(ValueError):
        WechatPaySettings.from_config({"WECHATPAY_MODE": "prod"})
    with pytest.raises(ValueError):
        replace(wx, apiv3_key="short")


# -- sandbox ---------------------------------------------------------------------------------------------------------
class Clock:
    """A settable clock for the sandbox."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


NOW = datetime(2026, 11, 23, 10, 0, tzinfo=CST).timestamp()


@pytest.fixture
def clock():
    """The sandbox's clock, starting at NOW."""
    return Clock(NOW)


@pytest.fixture
def sandbox(wx, keys, clock):
    """A sandbox client on a fresh DictStore with a settable clock."""
    return SandboxClient(wx, DictStore(), keys["platform_private_key_pem"], clock=clock)


def expires(minutes=15):
    """time_expire as the services pass it: an aware UTC datetime."""
    return datetime.fromtimestamp(NOW, timezone.utc) + timedelta(minutes=minutes)


def pay(sandbox, wx, out_trade_no, amount_fen=1500, openid="o-payer", now=NOW):
    """Create a JSAPI order, pay it, return the verified notification."""
    sandbox.create_jsapi(out_trade_no, "挂号费", amount_fen, openid, expires())
    headers, body = sandbox.simulate_payment(out_trade_no, openid, now)
    return verify_notification(wx, headers, body, now)


def pay_error(call):
    """The PayError a call raises."""
    with pytest.raises(PayError) as caught:
        call()
    return caught.value


def test_sandbox_is_a_pay_client(sandbox):
    assert isinstance(sandbox, PayClient)


def test_sandbox_jsapi_order_pay_and_query(sandbox, wx):
    prepay_id = sandbox.create_jsapi("ORDER-0001", "挂号费", 1500, "o-payer", expires())
    assert prepay_id.startswith("wx")
    assert sandbox.create_jsapi("ORDER-0001", "挂号费", 1500, "o-payer", expires()) == prepay_id  # WeChat repeats
    assert pay_error(lambda: sandbox.create_jsapi("ORDER-0001", "挂号费", 1600, "o-payer", expires())).code \
        == "OUT_TRADE_NO_USED"
    assert sandbox.query("ORDER-0001")["trade_state"] == "NOTPAY"
    headers, body = sandbox.simulate_payment("ORDER-0001", "o-payer", NOW + 60)
    result = verify_notification(wx, headers, body, NOW + 60)
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    transaction = sandbox.query("ORDER-0001")
    assert transaction == result["resource"]
    assert transaction["trade_state"] == "SUCCESS" and transaction["amount"]["total"] == 1500
    assert transaction["payer"] == {"openid": "o-payer"} and len(transaction["transaction_id"]) == 28
    assert pay_error(lambda: sandbox.create_jsapi("ORDER-0001", "挂号费", 1500, "o-payer", expires())).code \
        == "ORDERPAID"


def test_sandbox_repeated_payment_notification_is_a_replay(sandbox, wx):
    first = pay(sandbox, wx, "ORDER-0001")
    headers, body = sandbox.simulate_payment("ORDER-0001", "o-payer", NOW + 30)
    again = verify_notification(wx, headers, body, NOW + 30)
    assert again["id"] == first["id"] and again["resource"] == first["resource"]


def test_sandbox_native_order_close_and_expiry(sandbox):
    code_url = sandbox.create_native("KIOSK-0001", "门诊缴费", 8800, expires())
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    sandbox.close("KIOSK-0001")
    sandbox.close("KIOSK-0001")  # closing twice is harmless
    assert sandbox.query("KIOSK-0001")["trade_state"] == "CLOSED"
    assert pay_error(lambda: sandbox.simulate_payment("KIOSK-0001", "o-payer", NOW)).code == "ORDER_CLOSED"
    assert pay_error(lambda: sandbox.create_native("KIOSK-0001", "门诊缴费", 8800, expires())).code == "ORDER_CLOSED"
    sandbox.create_native("KIOSK-0002", "门诊缴费", 8800, expires(15))
    assert pay_error(lambda: sandbox.simulate_payment("KIOSK-0002", "o-payer", NOW + 16 * 60)).code \
        == "ORDER_EXPIRED"


def test_sandbox_errors_look_like_wechat(sandbox, wx):
    missing = pay_error(lambda: sandbox.query("NO-SUCH-ORDER"))
    assert (missing.code, missing.status, missing.retryable) == ("ORDER_NOT_EXIST", 404, False)
    assert pay_error(lambda: sandbox.create_jsapi("ORDER-0002", "挂号费", 0, "o", expires())).code == "PARAM_ERROR"
    assert pay_error(lambda: sandbox.create_jsapi("bad no!", "挂号费", 100, "o", expires())).code == "PARAM_ERROR"
    pay(sandbox, wx, "ORDER-0003")
    assert pay_error(lambda: sandbox.close("ORDER-0003")).code == "ORDERPAID"
    assert pay_error(lambda: sandbox.query_refund("NO-SUCH-REFUND")).code == "RESOURCE_NOT_EXISTS"


def test_sandbox_refunds(sandbox, wx):
    pay(sandbox, wx, "ORDER-0001", amount_fen=1500)
    refund = sandbox.refund("ORDER-0001", "REFUND-0001", 500, 1500, "患者取消")
    assert refund["status"] == "SUCCESS" and refund["amount"]["refund"] == 500 and refund["refund_id"]
    assert sandbox.refund("ORDER-0001", "REFUND-0001", 500, 1500, "患者取消") == refund  # idempotent
    assert sandbox.query_refund("REFUND-0001") == refund
    assert sandbox.query("ORDER-0001")["trade_state"] == "REFUND"
    assert pay_error(lambda: sandbox.refund("ORDER-0001", "REFUND-0001", 600, 1500)).code == "INVALID_REQUEST"
    assert pay_error(lambda: sandbox.refund("ORDER-0001", "REFUND-0002", 1001, 1500)).code == "INVALID_REQUEST"
    assert pay_error(lambda: sandbox.refund("ORDER-0001", "REFUND-0002", 100, 9999)).code == "PARAM_ERROR"
    assert sandbox.refund("ORDER-0001", "REFUND-0002", 1000, 1500)["status"] == "SUCCESS"
    sandbox.create_jsapi("ORDER-0009", "挂号费", 100, "o-payer", expires())
    assert pay_error(lambda: sandbox.refund("ORDER-0009", "REFUND-0009", 100, 100)).code == "INVALID_REQUEST"
    assert pay_error(lambda: sandbox.refund("NO-SUCH-ORDER", "REFUND-0010", 1, 1)).code == "RESOURCE_NOT_EXISTS"


def test_sandbox_refund_limits(sandbox, wx, clock):
    pay(sandbox, wx, "ORDER-0001", amount_fen=100)
    for number in range(50):
        sandbox.refund("ORDER-0001", f"REFUND-{number:04d}", 1, 100)
    assert pay_error(lambda: sandbox.refund("ORDER-0001", "REFUND-0050", 1, 100)).code == "INVALID_REQUEST"
    pay(sandbox, wx, "ORDER-0002", amount_fen=100)
    clock.now = NOW + 366 * 24 * 3600
    assert pay_error(lambda: sandbox.refund("ORDER-0002", "REFUND-0100", 1, 100)).code == "INVALID_REQUEST"


@pytest.mark.parametrize("status", ["SUCCESS", "ABNORMAL", "CLOSED"])
def test_sandbox_refund_notifications(sandbox, wx, status):
    pay(sandbox, wx, "ORDER-0001", amount_fen=1500)
    sandbox.refund("ORDER-0001", "REFUND-0001", 1500, 1500)
    headers, body = sandbox.simulate_refund_notification("REFUND-0001", NOW + 5, status=status)
    result = verify_notification(wx, headers, body, NOW + 5)
    assert result["event_type"] == f"REFUND.{status}"
    resource = result["resource"]
    assert resource["refund_status"] == status and resource["out_refund_no"] == "REFUND-0001"
    assert resource["amount"] == {"total": 1500, "refund": 1500, "payer_total": 1500, "payer_refund": 1500}
    assert resource["mchid"] == wx.mchid and resource["transaction_id"]
    assert sandbox.query_refund("REFUND-0001")["status"] == status
    if status == "CLOSED":  # a closed refund gives the amount back
        assert sandbox.refund("ORDER-0001", "REFUND-0002", 1500, 1500)["status"] == "SUCCESS"


def test_sandbox_state_lives_in_the_store_not_the_client(wx, keys):
    store = DictStore()
    SandboxClient(wx, store, keys["platform_private_key_pem"], clock=Clock(NOW)).create_jsapi(
        "ORDER-0001", "挂号费", 1500, "o-payer", expires())
    other = SandboxClient(wx, store, keys["platform_private_key_pem"], clock=Clock(NOW))
    headers, body = other.simulate_payment("ORDER-0001", "o-payer", NOW)
    assert verify_notification(wx, headers, body, NOW)["resource"]["out_trade_no"] == "ORDER-0001"


def test_build_client_shares_sandbox_keys_through_the_store():
    store, configured = DictStore(), WechatPaySettings.from_config({})
    first_settings, first = build_client(configured, store)
    second_settings, second = build_client(configured, store)
    assert isinstance(first, SandboxClient)
    assert first_settings.platform_public_key_id == second_settings.platform_public_key_id
    first.create_native("KIOSK-0001", "门诊缴费", 100, datetime.now(timezone.utc) + timedelta(minutes=5))
    headers, body = second.simulate_payment("KIOSK-0001", "o-kiosk", time.time())
    assert verify_notification(first_settings, headers, body, time.time())["resource"]["amount"]["total"] == 100


def test_sandbox_trade_bill_cuts_days_at_china_midnight(sandbox, wx, clock):
    day = date(2026, 11, 23)
    midnight = datetime(2026, 11, 23, tzinfo=CST).timestamp()
    pay(sandbox, wx, "ORDER-0001", amount_fen=1500, now=NOW)
    pay(sandbox, wx, "ORDER-0002", amount_fen=2000, now=midnight + 30)  # 16:00:30 UTC the day before
    sandbox.create_jsapi("ORDER-0003", "挂号费", 999, "o-payer", expires())  # never paid: not in the bill
    sandbox.create_jsapi("ORDER-0004", "挂号费", 700, "o-payer", expires())
    sandbox.simulate_payment("ORDER-0004", "o-payer", midnight - 1)  # the day before
    clock.now = NOW + 3600
    sandbox.refund("ORDER-0001", "REFUND-0001", 500, 1500)
    text = sandbox.trade_bill(day)
    lines = text.split("\r\n")
    assert lines[0] == HEADER and lines[-3] == SUMMARY_HEADER and lines[-1] == ""
    assert all(line.startswith("`") for line in lines[1:-3] + lines[-2:-1])
    rows = parse_trade_bill(text)
    assert [(r["out_trade_no"], r["trade_state"]) for r in rows] == [
        ("ORDER-0002", "SUCCESS"), ("ORDER-0001", "SUCCESS"), ("ORDER-0001", "REFUND")]
    assert rows[0]["trade_time"] == "2026-11-23 00:00:30" and rows[0]["amount_fen"] == 2000
    assert rows[2]["out_refund_no"] == "REFUND-0001" and rows[2]["refund_fen"] == 500 and rows[2]["amount_fen"] == 0
    assert rows[1]["transaction_id"] == sandbox.query("ORDER-0001")["transaction_id"] and rows[1]["out_refund_no"] == ""
    assert parse_trade_bill_summary(text) == {"count": 3, "settled_fen": 3500, "refund_fen": 500,
                                              "coupon_refund_fen": 0, "fee_fen": 0, "amount_fen": 3500,
                                              "requested_refund_fen": 500}
    assert [r["out_trade_no"] for r in parse_trade_bill(sandbox.trade_bill(day - timedelta(days=1)))] == ["ORDER-0004"]
    assert parse_trade_bill(sandbox.trade_bill(date(2026, 1, 1))) == []


# -- trade bill format -----------------------------------------------------------------------------------------------
def bill_row(**fields):
    """A full detail row as parse_trade_bill returns it."""
    row = {"trade_time": "2026-11-23 10:00:00", "appid": "wx0000000000000000", "mchid": "1900000001",
           "sub_mchid": "0", "device_info": "", "transaction_id": "4200000001", "out_trade_no": "ORDER-0001",
           "openid": "o-payer", "trade_type": "JSAPI", "trade_state": "SUCCESS", "bank_type": "OTHERS",
           "currency": "CNY", "settled_fen": 1234, "coupon_fen": 0, "refund_id": "", "out_refund_no": "",
           "refund_fen": 0, "coupon_refund_fen": 0, "refund_type": "", "refund_status": "",
           "description": "挂号费,普通门诊", "attach": "", "fee_fen": 0, "rate": "0.60%", "amount_fen": 1234,
           "requested_refund_fen": 0, "rate_note": ""}
    return {**row, **fields}


def test_trade_bill_round_trip_keeps_commas_and_money_exact():
    rows = [bill_row(), bill_row(trade_state="REFUND", settled_fen=0, amount_fen=0, refund_id="503000",
                                 out_refund_no="REFUND-1", refund_fen=1, requested_refund_fen=1,
                                 refund_type="ORIGINAL", refund_status="SUCCESS")]
    text = render_trade_bill(rows)
    assert "`12.34" in text and "`0.01" in text
    assert parse_trade_bill(text) == rows
    assert parse_trade_bill("\ufeff" + text.replace("\r\n", "\n")) == rows  # BOM and bare LF are tolerated
    assert parse_trade_bill_summary(text)["count"] == 2


@pytest.mark.parametrize("text", ["", "交易时间\n", HEADER + "\n`1,`2\n" + SUMMARY_HEADER + "\n`0,`0,`0,`0,`0,`0,`0\n",
                                  render_trade_bill([bill_row()]).replace("`12.34", "`12.345")])
def test_malformed_trade_bills_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_trade_bill(text)


def test_yuan_formatting_is_exact():
    assert [yuan(fen) for fen in (0, 1, 10, 100, 123456, -5)] == ["0.00", "0.01", "0.10", "1.00", "1234.56", "-0.05"]


# -- store -----------------------------------------------------------------------------------------------------------
@pytest.fixture
def redis_store(redis_client):
    """A RedisStore on the suite's Redis; its keys are removed afterwards (conftest's `clean` is off here)."""
    yield RedisStore(redis_client, ttl_seconds=60)
    for key in redis_client.scan_iter(match="test-wechatpay:*"):
        redis_client.delete(key)


def test_redis_store_round_trips_and_scans_literal_prefixes(redis_store, redis_client):
    store = redis_store
    prefix = "test-wechatpay:[x]*:"
    store.set(prefix + "a", {"n": 1, "名": "值"})
    assert store.add(prefix + "b", {"n": 2}) and not store.add(prefix + "b", {"n": 3})
    redis_client.set("test-wechatpay:[y]z:c", "{}")
    assert store.get(prefix + "a") == {"n": 1, "名": "值"} and store.get(prefix + "b") == {"n": 2}
    assert store.keys(prefix) == [prefix + "a", prefix + "b"] and store.get(prefix + "zz") is None


# -- LiveClient ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live_settings(keys):
    """Live-mode settings on the test keys (the gateway is mocked by `responses`)."""
    return settings_from_keys(keys, mode="live", mchid="1230000109", appid="wxd678efh567hg6787",
                              notify_url="https://patient.example.cn/api/v1/payments/wechatpay/notify")


@pytest.fixture
def live(live_settings):
    """A LiveClient (public-key mode never calls WeChat at construction)."""
    return LiveClient(live_settings)


@pytest.fixture
def gateway():
    """Mocked api.mch.weixin.qq.com; any unregistered call fails as a connection error."""
    with responses.RequestsMock() as mock:
        yield mock


def wechat_answer(live_settings, keys, status, payload=None, signing_key=None):
    """A responses callback answering like WeChat: JSON body plus Wechatpay-* headers signed by the platform key."""
    def callback(request):
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        key = signing_key or keys["platform_private_key_pem"]
        headers = {**sign_headers(live_settings, key, body.encode(), time.time()),
                   "Content-Type": "application/json; charset=utf-8", "Request-ID": "08F78BB5AF0610D302"}
        return status, headers, body
    return callback


def check_authorization(request, live_settings, keys):
    """The request carries a WECHATPAY2-SHA256-RSA2048 header that verifies with the merchant public key."""
    scheme, _, params = request.headers["Authorization"].partition(" ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert fields["mchid"] == live_settings.mchid and fields["serial_no"] == live_settings.merchant_cert_serial_no
    assert abs(int(fields["timestamp"]) - time.time()) < 60
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    message = f"{request.method}\n{request.path_url}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
    assert verify_signature(keys["merchant_public_key_pem"], message + body + b"\n", fields["signature"])
    assert request.headers["Wechatpay-Serial"] == live_settings.platform_public_key_id


def test_live_create_jsapi_signs_the_request(live, live_settings, keys, gateway):
    gateway.add_callback("POST", f"{GATEWAY}/v3/pay/transactions/jsapi",
                         callback=wechat_answer(live_settings, keys, 200, {"prepay_id": "wx2611222158062"}))
    expire = datetime(2026, 11, 23, 2, 15, tzinfo=timezone.utc)
    assert live.create_jsapi("ORDER-0001", "挂号费", 1500, "o-payer", expire) == "wx2611222158062"
    request = gateway.calls[0].request
    check_authorization(request, live_settings, keys)
    sent = json.loads(request.body)
    assert sent == {"notify_url": live_settings.notify_url, "description": "挂号费", "out_trade_no": "ORDER-0001",
                    "amount": {"total": 1500, "currency": "CNY"}, "payer": {"openid": "o-payer"},
                    "time_expire": "2026-11-23T10:15:00+08:00", "appid": "wxd678efh567hg6787", "mchid": "1230000109"}


def test_live_create_native_returns_code_url(live, live_settings, keys, gateway):
    gateway.add_callback("POST", f"{GATEWAY}/v3/pay/transactions/native",
                         callback=wechat_answer(live_settings, keys, 200, {"code_url": "weixin://wxpay/bizpayurl?pr=p4l"}))
    expire = datetime.now(timezone.utc) + timedelta(minutes=15)
    assert live.create_native("KIOSK-0001", "门诊缴费", 8800, expire) == "weixin://wxpay/bizpayurl?pr=p4l"
    check_authorization(gateway.calls[0].request, live_settings, keys)
    assert "payer" not in json.loads(gateway.calls[0].request.body)


@pytest.mark.parametrize("state", ["SUCCESS", "NOTPAY"])
def test_live_query(live, live_settings, keys, gateway, state):
    answer = transaction_resource(live_settings, "ORDER-0001", "4200000001", 1500, "o-payer", trade_state=state)
    gateway.add_callback("GET", f"{GATEWAY}/v3/pay/transactions/out-trade-no/ORDER-0001?mchid=1230000109",
                         callback=wechat_answer(live_settings, keys, 200, answer))
    assert live.query("ORDER-0001") == answer
    check_authorization(gateway.calls[0].request, live_settings, keys)


@pytest.mark.parametrize("status, code, retryable", [(404, "ORDER_NOT_EXIST", False), (400, "PARAM_ERROR", False),
                                                     (500, "SYSTEM_ERROR", True), (429, "FREQUENCY_LIMITED", True),
                                                     (403, "BANKERROR", True)])
def test_live_errors_map_to_pay_error(live, live_settings, keys, gateway, status, code, retryable):
    gateway.add_callback("GET", f"{GATEWAY}/v3/pay/transactions/out-trade-no/ORDER-0001?mchid=1230000109",
                         callback=wechat_answer(live_settings, keys, status, {"code": code, "message": "订单不存在"}))
    error = pay_error(lambda: live.query("ORDER-0001"))
    assert (error.code, error.status, error.retryable, error.message) == (code, status, retryable, "订单不存在")


def test_live_non_json_error_and_network_failure(live, live_settings, keys, gateway):
    gateway.add("POST", f"{GATEWAY}/v3/pay/transactions/out-trade-no/ORDER-0001/close", status=502,
                body="<html>bad gateway</html>", content_type="text/html")
    error = pay_error(lambda: live.close("ORDER-0001"))
    assert (error.code, error.retryable) == ("HTTP_502", True)
    gateway.add("GET", f"{GATEWAY}/v3/refund/domestic/refunds/REFUND-0001",
                body=requests.ConnectionError("connection reset"))
    error = pay_error(lambda: live.query_refund("REFUND-0001"))
    assert (error.code, error.retryable) == ("NETWORK_ERROR", True)


def test_live_answer_with_a_forged_signature_is_refused(live, live_settings, keys, gateway):
    gateway.add_callback("GET", f"{GATEWAY}/v3/pay/transactions/out-trade-no/ORDER-0001?mchid=1230000109",
                         callback=wechat_answer(live_settings, keys, 200, {"trade_state": "SUCCESS"},
                                                signing_key=keys["merchant_private_key_pem"]))
    error = pay_error(lambda: live.query("ORDER-0001"))
    assert (error.code, error.retryable) == ("INVALID_RESPONSE_SIGNATURE", False)


def test_live_close_and_refund(live, live_settings, keys, gateway):
    gateway.add_callback("POST", f"{GATEWAY}/v3/pay/transactions/out-trade-no/ORDER-0001/close",
                         callback=wechat_answer(live_settings, keys, 204))
    refund = {"refund_id": "50000000382019052709732678859", "out_refund_no": "REFUND-0001",
              "transaction_id": "4200000001", "out_trade_no": "ORDER-0001", "channel": "ORIGINAL",
              "user_received_account": "支付用户零钱", "create_time": "2026-11-23T10:00:00+08:00",
              "status": "PROCESSING", "amount": {"total": 1500, "refund": 500, "payer_total": 1500,
                                                 "payer_refund": 500, "currency": "CNY"}}
    gateway.add_callback("POST", f"{GATEWAY}/v3/refund/domestic/refunds",
                         callback=wechat_answer(live_settings, keys, 200, refund))
    assert live.close("ORDER-0001") is None
    assert json.loads(gateway.calls[0].request.body) == {"mchid": "1230000109"}
    assert live.refund("ORDER-0001", "REFUND-0001", 500, 1500, "患者取消") == refund
    sent = json.loads(gateway.calls[1].request.body)
    assert sent["amount"] == {"refund": 500, "total": 1500, "currency": "CNY"} and sent["reason"] == "患者取消"
    assert sent["notify_url"] == live_settings.notify_url
    for call in gateway.calls:
        check_authorization(call.request, live_settings, keys)


def test_live_trade_bill_downloads_and_checks_the_hash(live, live_settings, keys, gateway):
    text = render_trade_bill([bill_row()])
    data = text.encode("utf-8")
    info = {"hash_type": "SHA1", "hash_value": hashlib.sha1(data).hexdigest(),
            "download_url": f"{GATEWAY}/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd"}
    gateway.add_callback("GET", f"{GATEWAY}/v3/bill/tradebill?bill_date=2026-11-23&bill_type=ALL&tar_type=GZIP",
                         callback=wechat_answer(live_settings, keys, 200, info))
    gateway.add("GET", info["download_url"], body=gzip.compress(data), content_type="application/octet-stream")
    assert live.trade_bill(date(2026, 11, 23)) == text
    for call in gateway.calls:
        check_authorization(call.request, live_settings, keys)
    gateway.add_callback("GET", f"{GATEWAY}/v3/bill/tradebill?bill_date=2026-11-24&bill_type=ALL&tar_type=GZIP",
                         callback=wechat_answer(live_settings, keys, 200, {**info, "hash_value": "0" * 40}))
    assert pay_error(lambda: live.trade_bill(date(2026, 11, 24))).code == "BILL_HASH_MISMATCH"
