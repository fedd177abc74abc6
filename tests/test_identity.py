"""Resident ID validation, encryption at rest and masking."""
from datetime import date, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from stdnum.cn import ric

from patient_api.accounts.identity import InvalidIdNumber, parse_resident_id
from patient_api.common import crypto
from patient_api.common.masking import mask_id_number, mask_name, mask_phone


def with_check(body17):
    return body17 + ric.calc_check_digit(body17 + "0")


@pytest.mark.parametrize("number, born, gender", [
    (with_check("37090219600101001"), date(1960, 1, 1), "male"),  # before 泰山区 had its code: still valid
    (with_check("11010519491231002"), date(1949, 12, 31), "female"),
    ("11010519491231002x", date(1949, 12, 31), "female"),  # lower-case x accepted
])
def test_valid_numbers(number, born, gender):
    parsed = parse_resident_id(number)
    assert (parsed.birth_date, parsed.gender, parsed.region_code) == (born, gender, number[:6])


@pytest.mark.parametrize("number, reason", [
    ("370902196001010010", "校验位"),
    ("3709021960010100", "18位"),
    (with_check("37090219600231001"), "出生日期"),  # 31 February
    (with_check("990902196001010001"[:17]), "地区码"),
    (with_check("37090218990101001"), "出生日期"),
    ("", "18位"),
    ("37090219600101001Y", "18位"),
])
def test_invalid_numbers(number, reason):
    with pytest.raises(InvalidIdNumber, match=reason):
        parse_resident_id(number)


def test_birth_date_in_future_is_rejected():
    tomorrow = date.today() + timedelta(days=2)
    with pytest.raises(InvalidIdNumber, match="出生日期"):
        parse_resident_id(with_check(f"370902{tomorrow:%Y%m%d}001"))


def test_encryption_round_trip_and_tamper(ctx):
    token = crypto.encrypt("37090219600101001X")
    assert "3709" not in token and crypto.decrypt(token) == "37090219600101001X"
    assert crypto.encrypt("same") != crypto.encrypt("same")  # random nonce
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(InvalidTag):
        crypto.decrypt(tampered)
    assert crypto.blind_index("37090219600101001x") == crypto.blind_index("37090219600101001X")


def test_masks():
    assert mask_id_number("37090219600101123X") == "370***********123X"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_name("张秀英") == "张*英" and mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧**娜"
