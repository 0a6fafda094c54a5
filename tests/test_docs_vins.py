"""Every VIN a newcomer copies from the docs is a real one: it passes its own check digit.

SPEC.md is the shared contract and not ours to edit; its example VIN (`LSVAU2180N2183294`)
fails its check digit, so it is left out here and the project's docs use `LSVAU218XN2183294`.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from carhistory.vin import CheckDigit, check_vin

ROOT = Path(settings.BASE_DIR)
DOCS = sorted([ROOT / "README.md", ROOT / "verifier" / "README.md", *(ROOT / "docs").glob("*.md")])
# 17 VIN characters standing alone, with at least one digit and one letter (not a hash).
CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])"
)


def vins_in(path: Path) -> list[str]:
    return CANDIDATE.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_vin_in_the_docs_passes_its_check_digit(path):
    wrong = [vin for vin in vins_in(path) if check_vin(vin).check_digit != CheckDigit.VALID]
    assert wrong == [], f"{path.name}: fix the check digit of {wrong}"


def test_the_docs_do_show_vins():
    assert sum(len(vins_in(path)) for path in DOCS) > 10
