"""Resident ID numbers (GB 11643, ISO 7064 MOD 11-2), receipt numbers and query codes."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruxue_core.errors import InvalidInput
from ruxue_core.rules import codes
from ruxue_core.rules.national_id import make_national_id, mod11_2_check, parse_national_id

CJK = re.compile(r"[\u4e00-\u9fff]")

# Examples published with GB 11643 and in widely used references, with what they encode.
PUBLISHED = [
    ("11010519491231002X", date(1949, 12, 31), False),
    ("440524188001010014", date(1880, 1, 1), True),
    ("34052419800101001X", date(1980, 1, 1), True),
    ("420704201806151231", date(2018, 6, 15), True),
]

address_codes = st.integers(min_value=0, max_value=999_999).map(lambda n: f"{n:06d}")
birth_dates = st.dates(min_value=date(1850, 1, 1), max_value=date.today())
sequences = st.integers(min_value=0, max_value=999)


def with_check(body: str) -> str:
    """``body`` (17 digits) followed by its correct check character."""
    assert len(body) == 17
    return body + mod11_2_check(body)


@pytest.mark.parametrize(("value", "born", "male"), PUBLISHED)
def test_published_examples_parse(value: str, born: date, male: bool) -> None:
    parsed = parse_national_id(value)
    assert parsed.value == value
    assert parsed.birth_date == born
    assert parsed.male is male
    assert parsed.address_code == value[:6]


@pytest.mark.parametrize(("value", "born", "male"), PUBLISHED)
def test_lowercase_x_and_spaces_are_normalised(value: str, born: date, male: bool) -> None:
    parsed = parse_national_id(f"  {value.lower()} ")
    assert parsed.value == value
    assert parsed.birth_date == born
    assert parsed.male is male


def _wrong_check(value: str) -> str:
    wrong = "0" if value[-1] != "0" else "1"
    return value[:-1] + wrong


def _unicode_digits(digits: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in digits)


def _future_id() -> str:
    born = date.today() + timedelta(days=400)
    return with_check(f"420704{born:%Y%m%d}123")


BAD_IDS = {
    "wrong check character": _wrong_check("420704201806151231"),
    "wrong check character X": _wrong_check("11010519491231002X"),
    "X instead of digit check": "420704201806151231"[:-1] + "X",
    "February 30": with_check("42070420190230123"),
    "month 13": with_check("42070420191301123"),
    "day 00": with_check("42070420190100123"),
    "future birth date": _future_id(),
    "before 1850": with_check("42070418491231123"),
    "17 characters": "42070420180615123",
    "19 characters": "4207042018061512310",
    "empty": "",
    "letter inside": "42070420180A151231",
    "X not at the end": "4207042018061512X1",
    "full-width digits": "４２０７０４２０１８０６１５１２３１",
    # Unicode digits that str.isdigit() and int() accept, followed by a correct ASCII check.
    "full-width body, ASCII check": _unicode_digits("42070420180615123", 0xFF10) + "1",
    "Arabic-Indic body, ASCII check": _unicode_digits("42070420180615123", 0x0660) + "1",
}


@pytest.mark.parametrize("raw", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_bad_id_numbers_raise_invalid_input_in_chinese(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_national_id(raw, field="child.idNumber")
    assert caught.value.field == "child.idNumber"
    assert caught.value.code == "invalid_input"
    assert CJK.search(caught.value.message), caught.value.message


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(InvalidInput, match="18位") as caught:
        parse_national_id("42070420180615123")
    assert "17" in caught.value.message
    with pytest.raises(InvalidInput, match="出生日期"):
        parse_national_id(with_check("42070420190230123"))
    with pytest.raises(InvalidInput, match="校验位"):
        parse_national_id(_wrong_check("420704201806151231"))


def test_default_field_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_national_id("123")
    assert caught.value.field == "idNumber"


@given(address_codes, birth_dates, sequences)
def test_made_ids_parse_back_to_the_same_facts(address: str, born: date, sequence: int) -> None:
    value = make_national_id(address, born, sequence)
    parsed = parse_national_id(value)
    assert parsed.value == value
    assert parsed.birth_date == born
    assert parsed.male is (sequence % 2 == 1)
    assert parsed.address_code == address
    assert parse_national_id(value.lower()) == parsed


@given(
    address_codes,
    birth_dates,
    sequences,
    st.integers(min_value=0, max_value=17),
    st.integers(min_value=1, max_value=10),
)
def test_any_single_character_change_is_rejected(
    address: str, born: date, sequence: int, position: int, shift: int
) -> None:
    value = make_national_id(address, born, sequence)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = alphabet[(alphabet.index(value[position]) + shift) % len(alphabet)]
    if replacement == value[position]:
        return  # a shift of the whole alphabet's length changes nothing
    changed = value[:position] + replacement + value[position + 1 :]
    with pytest.raises(InvalidInput):
        parse_national_id(changed)


def test_mod11_2_check_of_the_standard_example() -> None:
    # ISO 7064's worked example for MOD 11-2: 0794 → check character 0.
    assert mod11_2_check("0794") == "0"
    assert mod11_2_check("11010519491231002") == "X"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), address_codes)
def test_receipt_numbers_validate(on: date, district: str) -> None:
    receipt = codes.new_receipt_no(district, on)
    assert len(receipt) == 23
    assert receipt.startswith(f"{district}{on:%Y%m%d}")
    assert codes.is_valid_receipt_no(receipt)


@pytest.mark.parametrize("attempt", range(20))
def test_any_one_digit_change_in_a_receipt_number_is_detected(attempt: int) -> None:
    receipt = codes.new_receipt_no("420704", date(2026, 7, 1))
    for position, original in enumerate(receipt):
        alphabet = "0123456789X" if position == len(receipt) - 1 else "0123456789"
        for replacement in alphabet:
            if replacement == original:
                continue
            changed = receipt[:position] + replacement + receipt[position + 1 :]
            assert not codes.is_valid_receipt_no(changed), (attempt, changed)


@pytest.mark.parametrize(
    "value",
    ["", "42070420260701123456780", "4207042026070112345678", "A2070420260701123456780"],
)
def test_malformed_receipt_numbers_are_invalid(value: str) -> None:
    # The second value has a correct shape; the check is whatever it is, so build a sure miss.
    if len(value) == 23 and value.isdigit():
        value = value[:-1] + ("1" if mod11_2_check(value[:-1]) == "0" else "0")
    assert not codes.is_valid_receipt_no(value)


def test_receipt_numbers_are_not_repeated() -> None:
    receipts = {codes.new_receipt_no("420704", date(2026, 7, 1)) for _ in range(200)}
    assert len(receipts) == 200


def test_query_codes_are_six_digits() -> None:
    samples = [codes.new_query_code() for _ in range(2000)]
    for code in samples:
        assert len(code) == 6
        assert code.isascii()
        assert code.isdigit()
        assert codes.QUERY_CODE_PATTERN.match(code)
    # Uniformly random: 2000 draws from a million values are nearly all distinct, and every
    # digit turns up in the first position.
    assert len(set(samples)) > 1900
    assert {code[0] for code in samples} == set("0123456789")
