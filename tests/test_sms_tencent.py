"""Tencent Cloud SMS adapter against recorded SendSms answers; the SDK's requests session is intercepted, no network."""
import hashlib
import hmac
import json
import logging
import re
import socket
import time
import traceback
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
import requests
import responses

from patient_api.sms.errors import SmsConfigError, SmsSendError
from patient_api.sms.tencent import TencentSms

# Python 3.12 deprecates datetime.utcfromtimestamp, which the SDK's signer calls; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:tencentcloud\..*")

ENDPOINT = "sms.example.test"
URL = f"https://{ENDPOINT}/"
SECRET_ID = "AKIDtestSecretId0000000000000000"
SECRET_KEY = "testSecretKey0000000000000000000"
PHONE = "13800138000"
MASKED = "138****8000"
CODE = "493817"
PARAMS = [CODE, "5"]
CONFIG = {
    "SMS_TENCENT_SECRET_ID": SECRET_ID,
    "SMS_TENCENT_SECRET_KEY": SECRET_KEY,
    "SMS_TENCENT_SDK_APP_ID": "1400000001",
    "SMS_TENCENT_SIGN_NAME": "健康城市",
    "SMS_TENCENT_TEMPLATES": {"verification": "1234567"},
    "SMS_TENCENT_ENDPOINT": ENDPOINT,
}
REQUEST_ID = "a0aabda6-cf91-4f3e-a81f-9198114a2279"
SERIAL_NO = "5000:1045710669157053657849499619"

SENT = {"Response": {"SendStatusSet": [{
    "SerialNo": SERIAL_NO, "PhoneNumber": "+86" + PHONE, "Fee": 1, "SessionContext": "",
    "Code": "Ok", "Message": "send success", "IsoCode": "CN"}], "RequestId": REQUEST_ID}}


def refused(code, message):
    """A recorded SendSms answer whose one status is not Ok (the request itself was valid)."""
    return {"Response": {"SendStatusSet": [{
        "SerialNo": "", "PhoneNumber": "+86" + PHONE, "Fee": 0, "SessionContext": "",
        "Code": code, "Message": message, "IsoCode": "CN"}], "RequestId": REQUEST_ID}}


def api_error(code, message):
    """A recorded API 3.0 error answer (HTTP 200 with Response.Error)."""
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": REQUEST_ID}}


@pytest.fixture
def mocked():
    """Every request the SDK makes through `requests` is answered here; an unexpected one fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def tc3_signature(request, secret_key):
    """TC3-HMAC-SHA256 of a recorded request, computed from Tencent's published algorithm without the SDK."""
    url = urlsplit(request.url)
    timestamp = request.headers["X-TC-Timestamp"]
    date = datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d")
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    headers = (f"content-type:{request.headers['Content-Type'].strip().lower()}\n"
               f"host:{request.headers['Host'].strip().lower()}\n")
    canonical = "\n".join([request.method, url.path or "/", url.query, headers, "content-type;host",
                           hashlib.sha256(body).hexdigest()])
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, f"{date}/sms/tc3_request",
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, "sms", "tc3_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


AUTHORIZATION = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<secret_id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})"
                           r"/sms/tc3_request, SignedHeaders=content-type;host, Signature=(?P<signature>[0-9a-f]{64})")


def assert_clean(exc):
    """Neither the full number nor the code appears in the error, however it is rendered."""
    rendered = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.message)
    assert PHONE not in rendered
    assert CODE not in rendered
    assert MASKED in str(exc)


def test_send_returns_serial_no_of_a_signed_send_sms_request(mocked):
    mocked.post(URL, json=SENT)

    assert TencentSms(CONFIG).send(PHONE, "verification", PARAMS) == SERIAL_NO

    request = mocked.calls[0].request
    assert request.method == "POST" and request.url == URL
    assert request.headers["Host"] == ENDPOINT
    assert request.headers["X-TC-Action"] == "SendSms"
    assert request.headers["X-TC-Version"] == "2021-01-11"
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": "1400000001", "SignName": "健康城市",
        "TemplateId": "1234567", "TemplateParamSet": [CODE, "5"]}
    assert abs(int(request.headers["X-TC-Timestamp"]) - time.time()) < 300
    auth = AUTHORIZATION.fullmatch(request.headers["Authorization"])
    assert auth, request.headers["Authorization"]
    assert auth["secret_id"] == SECRET_ID
    assert auth["date"] == datetime.fromtimestamp(int(request.headers["X-TC-Timestamp"]), timezone.utc).strftime(
        "%Y-%m-%d")
    assert auth["signature"] == tc3_signature(request, SECRET_KEY)
    assert mocked.calls[0].request.req_kwargs["timeout"] == 10


def test_the_signature_check_would_catch_a_wrong_key_or_a_changed_body(mocked):
    mocked.post(URL, json=SENT)
    TencentSms(CONFIG).send(PHONE, "verification", PARAMS)
    request = mocked.calls[0].request
    signature = AUTHORIZATION.fullmatch(request.headers["Authorization"])["signature"]

    assert tc3_signature(request, "another" + SECRET_KEY) != signature
    request.body = request.body.replace(CODE, "000000")
    assert tc3_signature(request, SECRET_KEY) != signature


def test_templates_as_json_string_and_region_from_config(mocked):
    mocked.post(URL, json=SENT)
    config = {**CONFIG, "SMS_TENCENT_TEMPLATES": '{"verification": "7654321"}', "SMS_TENCENT_REGION": "ap-beijing"}

    TencentSms(config).send(PHONE, "verification", PARAMS)

    request = mocked.calls[0].request
    assert json.loads(request.body)["TemplateId"] == "7654321"
    assert request.headers["X-TC-Region"] == "ap-beijing"


def test_default_endpoint_is_tencents(mocked):
    mocked.post("https://sms.tencentcloudapi.com/", json=SENT)
    config = {key: value for key, value in CONFIG.items() if key != "SMS_TENCENT_ENDPOINT"}

    assert TencentSms(config).send(PHONE, "verification", PARAMS) == SERIAL_NO


@pytest.mark.parametrize("code, message, retryable", [
    ("LimitExceeded.PhoneNumberThirtySecondLimit", "单个手机号30秒内下发短信条数超过设定的上限", True),
    ("LimitExceeded.DeliveryFrequencyLimit", "下发短信命中了频率限制策略", True),
    ("InternalError.Timeout", "请求下发短信超时", True),
    ("InternalError.OtherError", "其他错误", True),
    ("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误", False),
    ("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中", False),
    ("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配", False),
    ("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发短信条数超过设定的上限", False),
    ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId 校验失败", False),
])
def test_a_status_other_than_ok_raises_with_retryable_by_code(mocked, code, message, retryable):
    mocked.post(URL, json=refused(code, message))

    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "verification", PARAMS)

    assert caught.value.code == code
    assert caught.value.retryable is retryable
    assert caught.value.request_id == REQUEST_ID
    assert message in str(caught.value)
    assert_clean(caught.value)


@pytest.mark.parametrize("code, retryable", [
    ("AuthFailure.SignatureFailure", False),
    ("AuthFailure.SecretIdNotFound", False),
    ("UnauthorizedOperation.RequestIpNotInWhitelist", False),
    ("InvalidParameterValue.SdkAppIdNotExist", False),
    ("RequestLimitExceeded", True),
    ("RequestLimitExceeded.UinLimitExceeded", True),
    ("InternalError", True),
])
def test_an_api_error_raises_with_retryable_by_code(mocked, code, retryable):
    mocked.post(URL, json=api_error(code, "The provided credentials could not be validated."))

    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "verification", PARAMS)

    assert (caught.value.code, caught.value.retryable, caught.value.request_id) == (code, retryable, REQUEST_ID)
    assert_clean(caught.value)


def test_answers_that_echo_the_number_and_the_code_are_scrubbed(mocked):
    mocked.post(URL, json=api_error("InvalidParameterValue.TemplateParameterFormatError",
                                    f"+86{PHONE}: parameter {CODE} of template 1234567 is malformed"))

    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "verification", PARAMS)

    assert caught.value.retryable is False
    assert "+86138****8000: parameter ****** of template 1234567" in str(caught.value)
    assert_clean(caught.value)


@pytest.mark.parametrize("failure", [
    requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
    requests.exceptions.ConnectTimeout("connect timed out (connect timeout=10)"),
    requests.exceptions.ReadTimeout("read timed out (read timeout=10)"),
])
def test_network_failures_are_retryable(mocked, failure):
    mocked.post(URL, body=failure)

    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "verification", PARAMS)

    assert caught.value.code == "ClientNetworkError"
    assert caught.value.retryable is True
    assert_clean(caught.value)


def test_a_refused_connection_on_a_real_socket_is_retryable(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SmsSendError) as caught:
        TencentSms({**CONFIG, "SMS_TENCENT_ENDPOINT": f"127.0.0.1:{port}"}).send(PHONE, "verification", PARAMS)

    assert caught.value.code == "ClientNetworkError"
    assert caught.value.retryable is True
    assert_clean(caught.value)


@pytest.mark.parametrize("status, body", [
    (502, "<html><body>502 Bad Gateway</body></html>"),
    (200, "<html><body>upstream proxy page</body></html>"),
])
def test_answers_that_are_not_api_answers_are_retryable(mocked, status, body):
    mocked.post(URL, status=status, body=body, content_type="text/html")

    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "verification", PARAMS)

    assert caught.value.retryable is True
    assert_clean(caught.value)


def test_an_answer_without_a_status_raises(mocked):
    mocked.post(URL, json={"Response": {"SendStatusSet": [], "RequestId": REQUEST_ID}})

    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "verification", PARAMS)

    assert caught.value.code == "MissingSendStatus"
    assert_clean(caught.value)


@pytest.mark.parametrize("phone", ["1380013800", "138001380001", "+8613800138000", "23800138000", "1380013800x"])
def test_a_number_that_is_not_11_mainland_digits_is_refused_without_a_request(mocked, phone):
    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(phone, "verification", PARAMS)

    assert (caught.value.code, caught.value.retryable) == ("InvalidPhoneNumber", False)
    assert phone not in str(caught.value)


def test_an_unknown_template_is_refused_without_a_request(mocked):
    with pytest.raises(SmsSendError) as caught:
        TencentSms(CONFIG).send(PHONE, "password-reset", PARAMS)

    assert (caught.value.code, caught.value.retryable) == ("TemplateNotConfigured", False)
    assert "password-reset" in str(caught.value)


def test_logs_carry_neither_the_number_nor_the_code(mocked, caplog, monkeypatch):
    # The app's setup_logging stops patient_api records at its own handler; let them reach caplog too.
    monkeypatch.setattr(logging.getLogger("patient_api"), "propagate", True)
    caplog.set_level(logging.DEBUG)
    mocked.post(URL, json=SENT)
    mocked.post(URL, json=refused("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中"))
    sms = TencentSms(CONFIG)

    sms.send(PHONE, "verification", PARAMS)
    with pytest.raises(SmsSendError):
        sms.send(PHONE, "verification", PARAMS)

    assert MASKED in caplog.text and SERIAL_NO in caplog.text
    assert PHONE not in caplog.text
    assert CODE not in caplog.text


@pytest.mark.parametrize("name", ["SMS_TENCENT_SECRET_ID", "SMS_TENCENT_SECRET_KEY", "SMS_TENCENT_SDK_APP_ID",
                                  "SMS_TENCENT_SIGN_NAME", "SMS_TENCENT_TEMPLATES"])
@pytest.mark.parametrize("absent", ["removed", None, "  ", {}])
def test_a_missing_setting_is_named_at_construction(name, absent):
    config = {key: value for key, value in CONFIG.items() if key != name}
    if absent != "removed":
        config[name] = absent

    with pytest.raises(SmsConfigError, match=name):
        TencentSms(config)


def test_every_missing_setting_is_named():
    with pytest.raises(SmsConfigError) as caught:
        TencentSms({"SMS_TENCENT_SECRET_ID": SECRET_ID})

    for name in ("SMS_TENCENT_SECRET_KEY", "SMS_TENCENT_SDK_APP_ID", "SMS_TENCENT_SIGN_NAME", "SMS_TENCENT_TEMPLATES"):
        assert name in str(caught.value)
    assert "SMS_TENCENT_SECRET_ID" not in str(caught.value)


@pytest.mark.parametrize("name, value", [
    ("SMS_TENCENT_TEMPLATES", "{not json"),
    ("SMS_TENCENT_TEMPLATES", '["1234567"]'),
    ("SMS_TENCENT_TEMPLATES", {"verification": None}),
    ("SMS_TENCENT_ENDPOINT", "https://sms.tencentcloudapi.com/"),
])
def test_a_malformed_setting_is_named_at_construction(name, value):
    with pytest.raises(SmsConfigError, match=name):
        TencentSms({**CONFIG, name: value})
