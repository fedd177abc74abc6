"""Masking of personal data in every response and log line."""
import re


def mask_id_number(value):
    """370***********123X: first three and last four only, so no birth date or county can complete it."""
    if not value:
        return value
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value):
    """138****8000."""
    if not value:
        return value
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "*" * len(value)


def mask_name(value):
    """张*英 for three characters, 张* for two: first and last kept."""
    if not value:
        return value
    if len(value) <= 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


# Free text (log lines): an ID number or mobile standing alone, and WeChat openids (28 characters from "o").
ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
OPENID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z_-])o[0-9A-Za-z_-]{27}(?![0-9A-Za-z_-])")


def mask_text(text):
    """Mask every ID number, mobile number and openid found in `text` (the last line of defence for logs)."""
    text = ID_NUMBER_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    text = PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)
    return OPENID_IN_TEXT.sub(lambda m: m.group()[:4] + "****" + m.group()[-4:], text)
