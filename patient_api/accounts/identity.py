"""Resident identity card numbers (居民身份证号): validation and the facts they carry."""
import re
from dataclasses import dataclass
from datetime import date

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from ..common.clock import today_local

ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class InvalidIdNumber(ValueError):
    """Carries a Chinese message for the resident."""


@dataclass(frozen=True)
class ResidentId:
    """A validated resident ID number with its birth date, gender and region."""

    number: str
    birth_date: date
    gender: str
    region_code: str


def parse_resident_id(raw):
    """Validate checksum, birth date (real, not in the future) and region; return the parts."""
    number = ric.compact(raw or "")
    if not ID_SHAPE.fullmatch(number):  # ASCII only: str.isdigit() also accepts "²" and "１"
        raise InvalidIdNumber("身份证号应为18位")
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdNumber("身份证号校验位不正确")
    try:
        born = ric.get_birth_date(number)
    except ValidationError:
        raise InvalidIdNumber("身份证号中的出生日期无效") from None
    if born > today_local() or born.year < 1900:
        raise InvalidIdNumber("身份证号中的出生日期无效")
    # Region must be a known county code of any era: stdnum also ties the code to the birth
    # year, which wrongly rejects people born before their county got today's code (IDs were
    # issued from 1985 with the code of the time of issue).
    parts = dict(kv for _, props in numdb.get("cn/loc").info(number[:6]) for kv in props.items())
    if "county" not in parts:
        raise InvalidIdNumber("身份证号中的地区码无效")
    gender = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number, born, gender, number[:6])
