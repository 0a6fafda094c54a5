"""The VIN rules, in one place: the API, the web form, the CSV importer and the report import them.

ISO 3779 fixes 17 characters from `0-9A-HJ-NPR-Z` (no I, O or Q, which read as 1 and 0). The
check digit at position 9 (ISO 3779 annex / 49 CFR 565.15) is mandatory for North American
VINs and for Chinese ones (GB 16735); elsewhere makers may ignore it, so a mismatch there is
reported but not refused. Maker, country and model year are decoded with `vininfo`.
"""

import datetime
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
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Only ASCII letters are upper-cased: Unicode case mapping turns ſ into S and K (Kelvin) into k,
# and makes ß and ﬀ two letters long, so a VIN could match one it is not.
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


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
    """Trim and upper-case ASCII letters: `lsv au2180...` as typed on a phone becomes the
    canonical form. Other characters stay as they are, for `check_vin` to refuse."""
    return (raw or "").strip().translate(_ASCII_UPPER)


def expected_check_digit(vin: str) -> str:
    """The ISO 3779 check digit for a 17-character VIN of allowed characters."""
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
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
