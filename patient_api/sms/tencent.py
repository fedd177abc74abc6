"""Tencent Cloud SMS provider: one templated message to one mainland mobile through SendSms (API 2021-01-11)."""
import json
import logging
import re
from collections.abc import Mapping

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from patient_api.common.masking import mask_phone
from patient_api.sms.errors import SmsConfigError, SmsSendError

log = logging.getLogger(__name__)

REQUIRED = ("SMS_TENCENT_SECRET_ID", "SMS_TENCENT_SECRET_KEY", "SMS_TENCENT_SDK_APP_ID", "SMS_TENCENT_SIGN_NAME",
            "SMS_TENCENT_TEMPLATES")
DEFAULT_REGION = "ap-guangzhou"
DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"
# A resident is waiting for the code; better to fail and let the outbox retry than to hang a worker for a minute.
TIMEOUT_SECONDS = 10
MAINLAND_MOBILE = re.compile(r"1[0-9]{10}")

# Retryable: no answer came back, or Tencent says "not now". Hour and day limits are left out on purpose: a
# verification code expires long before such a retry could succeed.
RETRYABLE_PREFIXES = ("InternalError", "RequestLimitExceeded")
RETRYABLE_CODES = frozenset({
    "ClientNetworkError",  # the SDK's name for connection refused, DNS, TLS and timeout failures
    "ServerNetworkError",  # the SDK's name for a non-200 answer, i.e. a gateway in front of the API
    "JSONDecodeError",  # the SDK names a 200 with a non-JSON body (a proxy's page) after the exception class
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
    "LimitExceeded.GlobalSmsSendingRateLimit",
})
# Short template values (e.g. "5" minutes) would garble any message they were blanked out of and are not secret.
SECRET_PARAM_MIN_LENGTH = 4
MAX_MESSAGE_LENGTH = 300


def retryable(code):
    """Whether a Tencent or SDK error code is worth sending the same message again later."""
    code = code or ""
    return code in RETRYABLE_CODES or code.startswith(RETRYABLE_PREFIXES)


class _DropSdkDumps(logging.Filter):
    """Drops the SDK's DEBUG dumps of whole requests and answers."""

    def filter(self, record):
        return record.levelno > logging.DEBUG


# The SDK logs every request body (phone number and code) at DEBUG; one debug-level root logger would leak them.
logging.getLogger("tencentcloud_sdk_common").addFilter(_DropSdkDumps())


def _setting(config, name):
    """A setting as stripped text, or None when absent or blank."""
    value = config.get(name)
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value or None
    value = str(value).strip()
    return value or None


def _templates(raw):
    """SMS_TENCENT_TEMPLATES as {name: template id}, from a mapping or a JSON object string."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SmsConfigError("SMS_TENCENT_TEMPLATES is not valid JSON") from None
    if not isinstance(raw, Mapping) or not raw:
        raise SmsConfigError('SMS_TENCENT_TEMPLATES must map template names to template ids, '
                             'e.g. {"verification": "1234567"}')
    templates = {}
    for name, template_id in raw.items():
        if isinstance(template_id, bool) or not isinstance(template_id, (str, int)) or not str(template_id).strip():
            raise SmsConfigError(f"SMS_TENCENT_TEMPLATES[{name!r}] is not a template id")
        templates[str(name)] = str(template_id).strip()
    return templates


class TencentSms:
    """Sends SMS through Tencent Cloud; built from the Flask config."""

    def __init__(self, config):
        missing = [name for name in REQUIRED if _setting(config, name) is None]
        if missing:
            raise SmsConfigError(f"Tencent SMS is not configured: missing {', '.join(missing)}")
        endpoint = _setting(config, "SMS_TENCENT_ENDPOINT") or DEFAULT_ENDPOINT
        if "/" in endpoint:
            raise SmsConfigError("SMS_TENCENT_ENDPOINT is a host name such as sms.tencentcloudapi.com, not a URL")
        self.app_id = _setting(config, "SMS_TENCENT_SDK_APP_ID")
        self.sign_name = _setting(config, "SMS_TENCENT_SIGN_NAME")
        self.templates = _templates(config.get("SMS_TENCENT_TEMPLATES"))
        self.region = _setting(config, "SMS_TENCENT_REGION") or DEFAULT_REGION
        self.endpoint = endpoint
        secrets = credential.Credential(_setting(config, "SMS_TENCENT_SECRET_ID"),
                                        _setting(config, "SMS_TENCENT_SECRET_KEY"))
        # The region breaker (off by default, off for sure here) would send to a backup host and swallow errors.
        profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, reqTimeout=TIMEOUT_SECONDS),
                                disable_region_breaker=True)
        self.client = sms_client.SmsClient(secrets, self.region, profile)

    def send(self, phone, template, params):
        """Send template `template` with `params` to 11-digit `phone`; returns Tencent's SerialNo."""
        phone = str(phone)
        params = [str(param) for param in params]
        masked = mask_phone(phone)
        if not MAINLAND_MOBILE.fullmatch(phone):
            raise SmsSendError("InvalidPhoneNumber", f"not an 11-digit mainland mobile number: {masked}")
        template_id = self.templates.get(template)
        if template_id is None:
            raise SmsSendError("TemplateNotConfigured", f"no SMS_TENCENT_TEMPLATES entry for {template!r}")
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + phone]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = params
        try:
            answer = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            # from None: the SDK's exception text is not scrubbed and would reach logs through the traceback.
            raise _error(exc.code, exc.message, phone, params, exc.requestId) from None
        statuses = answer.SendStatusSet or []
        if not statuses:
            raise SmsSendError("MissingSendStatus", f"no send status for {masked}", request_id=answer.RequestId)
        status = statuses[0]
        if status.Code != "Ok":
            raise _error(status.Code, status.Message, phone, params, answer.RequestId)
        log.info("sms %s to %s accepted: serial %s", template, masked, status.SerialNo)
        return status.SerialNo


def _error(code, message, phone, params, request_id):
    """An SmsSendError whose text names the number only masked and leaves out the code."""
    code = str(code or "UnknownError")
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message or "")
    text = text.replace(phone, mask_phone(phone))
    for param in params:
        if len(param) >= SECRET_PARAM_MIN_LENGTH:
            text = text.replace(param, "*" * len(param))
    where = f"to {mask_phone(phone)}" + (f", request {request_id}" if request_id else "")
    return SmsSendError(code, f"{text[:MAX_MESSAGE_LENGTH]} ({where})", retryable=retryable(code),
                        request_id=request_id)
