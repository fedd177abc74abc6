"""Mainland mobile numbers, as people and hospitals write them."""
import phonenumbers


def mobile(raw):
    """A mainland mobile number as 11 national digits, or None (landlines cannot receive a code)."""
    try:
        parsed = phonenumbers.parse(str(raw or "").strip(), "CN")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
        return None
    if phonenumbers.number_type(parsed) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None
    return str(parsed.national_number)
