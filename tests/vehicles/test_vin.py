"""The VIN rules (SPEC.md §5): alphabet, length, check digit, decoding."""

import datetime
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carhistory.vin import (
    CheckDigit,
    ModelYearBasis,
    check_vin,
    decode_vin,
    expected_check_digit,
    normalise_vin,
    settle_model_year,
)

ALLOWED = sorted(set(string.digits + string.ascii_uppercase) - set("IOQ"))
# ISO 3779's transliteration table, written out here as the standard gives it.
ISO_VALUES = {
    **{digit: int(digit) for digit in string.digits},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
# The weight of each position (49 CFR 565.15, table IV); position 9, the check digit, weighs 0.
ISO_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def iso_check_digit(vin: str) -> str:
    """The check digit as the standard computes it, written here independently of the code
    under test: the weighted sum modulo 11, with 10 written X."""
    remainder = sum(ISO_VALUES[c] * w for c, w in zip(vin, ISO_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def with_check_digit(vin: str) -> str:
    return vin[:8] + iso_check_digit(vin) + vin[9:]


def test_check_digits_of_published_examples():
    # 49 CFR 565's worked example has the check digit X; the Honda is the industry's usual one.
    assert expected_check_digit("1M8GDM9AXKP042788") == "X"
    assert expected_check_digit("1HGCM82633A004352") == "3"
    assert check_vin("1M8GDM9AXKP042788").is_valid


@given(st.lists(st.sampled_from(ALLOWED), min_size=17, max_size=17))
def test_the_check_digit_is_iso_3779s_weighted_sum(chars):
    vin = "".join(chars)
    assert expected_check_digit(vin) == iso_check_digit(vin)


@pytest.mark.parametrize("vin", ["1HGCM82633A00435", "1HGCM82633A0043521", ""])
def test_a_check_digit_is_refused_for_a_vin_of_another_length(vin):
    # A shorter VIN must not be weighted as if its missing characters were zeros.
    with pytest.raises(ValueError):
        expected_check_digit(vin)


def test_known_north_american_vin_is_valid():
    # The check-digit example used across the industry (a 2003 Honda Accord).
    result = check_vin("1HGCM82633A004352")
    assert result.is_valid
    assert result.check_digit == CheckDigit.VALID


def test_vin_is_trimmed_and_upper_cased():
    assert check_vin("  1hgcm82633a004352 ").vin == "1HGCM82633A004352"


def test_wrong_check_digit_is_refused_for_a_chinese_vin():
    vin = with_check_digit("LFV2A21K0E3000001")
    wrong = vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]
    result = check_vin(wrong)
    assert not result.is_valid
    assert result.check_digit == CheckDigit.INVALID
    assert result.errors[0].code == "check_digit"
    assert result.errors[0].position == 9


def test_wrong_check_digit_is_only_advisory_for_a_european_vin():
    result = check_vin("WVWZZZ1JZXW000001")
    assert result.is_valid
    assert result.check_digit == CheckDigit.ADVISORY_MISMATCH


def test_forbidden_letters_are_named_with_their_position():
    result = check_vin("1HGCM82O33A004352")
    assert not result.is_valid
    [problem] = result.errors
    assert problem.code == "forbidden_letter"
    assert problem.position == 8
    assert "O" in problem.message


def test_wrong_length_says_how_many_characters_there_are():
    result = check_vin("1HGCM826")
    assert not result.is_valid
    assert result.errors[0].code == "length"
    assert "8" in result.errors[0].message


def test_punctuation_is_an_invalid_character():
    result = check_vin("1HGCM82633A00435.")
    assert [problem.code for problem in result.errors] == ["invalid_character"]


@pytest.mark.parametrize(
    "typed",
    [
        "lfv2a21k3j 3041877",
        "LFV2A-21K3J-3041877",
        "  LFV2A21K3J\t3041877 ",
        "LFV2A21K3J\u20133041877",  # an en dash pasted from a document
        "ＬＦＶ２Ａ２１Ｋ３Ｊ３０４１８７７",  # full-width, from a Chinese input method
    ],
)
def test_inner_spaces_dashes_and_full_width_are_normalised(typed):
    result = check_vin(typed)
    assert result.is_valid
    assert result.vin == "LFV2A21K3J3041877"


@given(
    st.lists(st.sampled_from(ALLOWED), min_size=17, max_size=17),
    st.integers(min_value=0, max_value=16),
    st.characters().filter(lambda char: char not in ALLOWED and normalise_vin(char) == char),
)
def test_any_character_a_vin_may_not_use_is_named_with_its_position(chars, position, wrong):
    # Good VINs skip the per-character messages: that shortcut must know the same alphabet.
    chars[position] = wrong
    result = check_vin("".join(chars))
    assert not result.is_valid
    assert [(problem.code, problem.position) for problem in result.errors] in (
        [("forbidden_letter", position + 1)],
        [("invalid_character", position + 1)],
    )


def test_normalising_never_hides_a_wrong_character():
    assert check_vin("LFV2A 21K3J 304187O").errors[0].code == "forbidden_letter"


def test_empty_input_is_refused():
    assert check_vin("   ").errors[0].code == "empty"


def test_decode_names_maker_country_and_model_year():
    decoded = decode_vin(with_check_digit("LFV2A21K0E3000001"))
    assert decoded.manufacturer == "FAW-Volkswagen"
    assert decoded.country == "China"
    assert 2014 in decoded.model_years


@given(st.lists(st.sampled_from(ALLOWED), min_size=17, max_size=17))
def test_any_vin_with_its_computed_check_digit_is_valid(chars):
    vin = with_check_digit("".join(chars))
    assert check_vin(vin).is_valid


@given(
    st.lists(st.sampled_from(ALLOWED), min_size=17, max_size=17),
    st.integers(1, 16).filter(lambda position: position != 8),
    st.sampled_from(ALLOWED),
)
def test_a_mistyped_character_of_a_north_american_vin_is_caught(chars, position, typo):
    chars[0] = "1"
    vin = with_check_digit("".join(chars))
    mistyped = vin[:position] + typo + vin[position + 1 :]
    # ISO 3779 gives some characters the same value (A and J, say); swapping those cannot be
    # seen. Any other single substitution changes the weighted sum by weight × difference,
    # which 11 (a prime above every weight and difference) never divides.
    same_value = ISO_VALUES[typo] == ISO_VALUES[vin[position]]
    assert check_vin(mistyped).is_valid == same_value


def test_first_registration_settles_the_thirty_year_cycle():
    settled = settle_model_year([2017, 1987], first_registered=datetime.date(2017, 6, 12))
    assert (settled.year, settled.basis) == (2017, ModelYearBasis.FIRST_REGISTRATION)


def test_earliest_record_rules_out_model_years_after_it():
    settled = settle_model_year([2017, 1987], earliest_record=datetime.date(2010, 3, 1))
    assert (settled.year, settled.basis) == (1987, ModelYearBasis.EARLIEST_RECORD)


def test_a_late_first_record_cannot_tell_an_old_car_from_a_new_one():
    settled = settle_model_year([2017, 1987], earliest_record=datetime.date(2024, 3, 1))
    assert settled.year is None
    assert settled.candidates == [2017, 1987]


def test_a_car_registered_the_year_before_its_model_year_fits():
    settled = settle_model_year([2020, 1990], first_registered=datetime.date(2019, 9, 1))
    assert settled.year == 2020
