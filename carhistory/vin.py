"""The VIN rules, in one place: the API, the web form, the CSV importer and the report import them.

ISO 3779 fixes 17 characters from `0-9A-HJ-NPR-Z` (no I, O or Q, which read as 1 and 0). The
check digit at position 9 (ISO 3779 annex / 49 CFR 565.15) is mandatory for North American
VINs and for Chinese ones (GB 16735); elsewhere makers may ignore it, so a mismatch there is
reported but not refused. Maker, country and model year are decoded with `vininfo`.
"""

import datetime
import operator
import re
import string
from dataclasses import asdict, dataclass, field

from django.utils.translation import gettext as _
from vininfo import Vin

from carhistory.plain_text import shown_character

VIN_LENGTH = 17
FORBIDDEN_LETTERS = frozenset("IOQ")
CHECK_DIGIT_POSITION = 9  # 1-based, as people count

# ISO 3779 transliteration of letters to numbers, and the weight of each position.
_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
# Whitespace and the dashes and hyphens of Unicode's Pd class people paste from documents.
_SPACES_AND_DASHES = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Every character a VIN may use: one scan clears a good VIN before any per-character message
# is built (the batch API checks a thousand VINs a request).
_ALLOWED_CHARACTERS = re.compile(r"[0-9A-HJ-NPR-Z]*")
# Only ASCII letters are upper-cased: Unicode case mapping turns ſ into S and K (Kelvin) into k,
# and makes ß and ﬀ two letters long, so a VIN could match one it is not.
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
# Chinese input methods type full-width digits and letters (U+FF10..U+FF5A): the same
# characters, one block up. Only these are folded, not all of Unicode's compatibility forms.
_FULL_WIDTH_ASCII = {
    0xFF00 + ord(char) - 0x20: char for char in string.digits + string.ascii_letters
}


class CheckDigit:
    VALID = "valid"
    INVALID = "invalid"  # mandatory here, and wrong: the VIN is refused
    ADVISORY_MISMATCH = "advisory_mismatch"  # wrong, but this maker's region does not require it


@dataclass(frozen=True)
class VinProblem:
    code: str  # "empty", "length", "forbidden_letter", "invalid_character", "check_digit"
    message: str
    position: int | None = None  # 1-based


@dataclass(frozen=True)
class VinCheck:
    vin: str
    is_valid: bool
    errors: list[VinProblem] = field(default_factory=list)
    check_digit: str | None = None
    check_digit_required: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VehicleDecode:
    wmi: str
    manufacturer: str | None
    country: str | None
    region: str | None
    model_years: list[int]

    def as_dict(self) -> dict:
        return asdict(self)


def normalise_vin(raw: str) -> str:
    """The canonical form of a VIN as people type it: `lfv2a21k3j 3041877` or `LFV2A-21K3J`
    copied from a paper form, or full-width `ＬＦＶ…` from a Chinese input method, all become
    `LFV2A21K3J3041877`. Spaces and dashes are never part of a VIN, so dropping them cannot
    turn one VIN into another. Only full-width ASCII is folded and only ASCII letters are
    upper-cased; other characters stay as they are, for `check_vin` to refuse."""
    if raw and _ALLOWED_CHARACTERS.fullmatch(raw):
        # Already canonical, as nearly every VIN a source's software sends is: nothing below
        # would change it, and the batch API normalises a thousand VINs a request.
        return raw
    folded = (raw or "").translate(_FULL_WIDTH_ASCII)
    return _SPACES_AND_DASHES.sub("", folded).translate(_ASCII_UPPER)


def expected_check_digit(vin: str) -> str:
    """The ISO 3779 check digit for a 17-character VIN of allowed characters."""
    if len(vin) != VIN_LENGTH:
        raise ValueError(f"a VIN has {VIN_LENGTH} characters, not {len(vin)}")
    # map() rather than a generator: a thousand VINs a batch request.
    total = sum(map(operator.mul, map(_TRANSLITERATION.__getitem__, vin), _WEIGHTS))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def check_digit_required(vin: str) -> bool:
    """North America (WMI 1-5) and China (WMI L, GB 16735) make the check digit mandatory."""
    return vin[:1] in {"1", "2", "3", "4", "5", "L"}


def check_vin(raw: str) -> VinCheck:
    """Normalise `raw` and say whether it is a VIN, naming each character or check that fails."""
    vin = normalise_vin(raw)
    if not vin:
        return VinCheck(vin, False, [VinProblem("empty", _("Enter a VIN: 17 letters and digits."))])
    errors = _character_problems(vin)
    if len(vin) != VIN_LENGTH:
        errors.insert(
            0,
            VinProblem(
                "length",
                _("A VIN has 17 characters; this one has %(count)d.") % {"count": len(vin)},
            ),
        )
    if errors:
        return VinCheck(vin, False, errors)

    required = check_digit_required(vin)
    expected = expected_check_digit(vin)
    actual = vin[CHECK_DIGIT_POSITION - 1]
    if actual == expected:
        return VinCheck(vin, True, [], CheckDigit.VALID, required)
    if not required:
        return VinCheck(vin, True, [], CheckDigit.ADVISORY_MISMATCH, required)
    problem = VinProblem(
        "check_digit",
        _(
            "The check digit (character 9) is %(actual)s but the other characters give "
            "%(expected)s: a character was probably mistyped."
        )
        % {"actual": actual, "expected": expected},
        CHECK_DIGIT_POSITION,
    )
    return VinCheck(vin, False, [problem], CheckDigit.INVALID, required)


def _character_problems(vin: str) -> list[VinProblem]:
    if _ALLOWED_CHARACTERS.fullmatch(vin):
        return []
    problems = []
    for position, char in enumerate(vin, start=1):
        values = {"position": position, "char": shown_character(char)}
        if char in FORBIDDEN_LETTERS:
            message = _(
                "Character %(position)d is the letter %(char)s: VINs never use I, O or Q "
                "(did you mean 1 or 0?)."
            )
            problems.append(VinProblem("forbidden_letter", message % values, position))
        elif char not in _TRANSLITERATION:
            message = _("Character %(position)d (%(char)s) is not a letter or digit a VIN may use.")
            problems.append(VinProblem("invalid_character", message % values, position))
    return problems


def decode_vin(vin: str) -> VehicleDecode:
    """Maker, country and candidate model years from a VIN that passed `check_vin`.

    The model-year code repeats every 30 years, so several years can fit; years after next year
    are impossible and dropped.
    """
    decoded = Vin(vin)
    latest_possible = datetime.date.today().year + 1
    years = sorted((year for year in decoded.years if year <= latest_possible), reverse=True)
    manufacturer = decoded.manufacturer
    return VehicleDecode(
        wmi=decoded.wmi,
        manufacturer=None if manufacturer == "UnsupportedBrand" else manufacturer,
        country=decoded.country,
        region=decoded.region,
        model_years=years,
    )


class ModelYearBasis:
    MANUFACTURE = "manufacture"
    FIRST_REGISTRATION = "first_registration"
    EARLIEST_RECORD = "earliest_record"
    VIN = "vin"  # only one candidate is not in the future


@dataclass(frozen=True)
class ModelYear:
    year: int | None  # None: the log cannot settle which candidate it is
    basis: str | None
    candidates: list[int]


def settle_model_year(
    candidates: list[int],
    *,
    first_registered: datetime.date | None = None,
    earliest_record: datetime.date | None = None,
) -> ModelYear:
    """Which of the VIN's candidate model years (30 years apart) the log's dates allow.

    A car is first registered new: its model year is within a year or two of that date (a
    model year starts up to a year early and a car may stand at a dealer for a year). The
    earliest record only bounds it from above: the car existed then, so its model year is at
    most the next year. A manufacturer's `model_year` settles it before either (`report.py`).
    """
    if first_registered is not None:
        fitting = [
            year
            for year in candidates
            if first_registered.year - 2 <= year <= first_registered.year + 1
        ]
        if len(fitting) == 1:
            return ModelYear(fitting[0], ModelYearBasis.FIRST_REGISTRATION, candidates)
    if earliest_record is not None:
        fitting = [year for year in candidates if year <= earliest_record.year + 1]
        if len(fitting) == 1:
            return ModelYear(fitting[0], ModelYearBasis.EARLIEST_RECORD, candidates)
    if len(candidates) == 1:
        return ModelYear(candidates[0], ModelYearBasis.VIN, candidates)
    return ModelYear(None, None, candidates)
