"""Exceptions of the SMS providers; messages never carry a full phone number or a code."""


class SmsConfigError(RuntimeError):
    """A provider cannot be built from the app config; the message names the setting at fault."""


class SmsSendError(Exception):
    """A message was not accepted; `retryable` says whether sending the same message later may succeed."""

    def __init__(self, code, message="", retryable=False, request_id=None):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.request_id = request_id
