"""Masking of personal data in every response and log line."""


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
