"""The top of the report: which summary cards a risk turns red or amber, and what a clean
history did and did not check.

A buyer reads the cards before the lines behind them, so a card that summarises a risk must
look like one: the last odometer reading of a rolled-back car is red, not a neutral number.
"""

from django.utils.translation import gettext as _

from carhistory.vehicles.flags import FlagCode, Severity

# Which card summarises which flags.
CARD_FLAGS = {
    "owners": (FlagCode.MANY_OWNERS,),
    "accidents": (FlagCode.SEVERE_ACCIDENT, FlagCode.FRAME_DAMAGE, FlagCode.TOTAL_LOSS),
    "title_brands": (FlagCode.TITLE_BRAND,),
    "last_odometer": (
        FlagCode.ODOMETER_ROLLBACK,
        FlagCode.ODOMETER_IMPOSSIBLE_JUMP,
        FlagCode.MILEAGE_IMPLAUSIBLE,
    ),
    "open_recalls": (FlagCode.OPEN_RECALL,),
    "uses": (FlagCode.FORMER_COMMERCIAL_USE,),
    "inspections": (FlagCode.FAILED_INSPECTION,),
}
_CARD_CLASSES = {Severity.DANGER: "bad", Severity.WARNING: "warn"}


def card_states(flags: list[dict]) -> dict[str, dict]:
    """For each card, its colour ("bad", "warn" or "") and the first line its worst flag names."""
    states = {}
    for card, codes in CARD_FLAGS.items():
        raised = [flag for flag in flags if flag["code"] in codes]
        worst = next(
            (
                flag
                for severity in (Severity.DANGER, Severity.WARNING)
                for flag in raised
                if flag["severity"] == severity
            ),
            None,
        )
        states[card] = {
            "css_class": _CARD_CLASSES.get(worst["severity"], "") if worst else "",
            "message": worst["message"] if worst else "",
            "index": worst["indexes"][0] if worst and worst["indexes"] else None,
        }
    return states


def what_was_checked(data: dict) -> dict:
    """What a report with no risk can and cannot say, in the reader's language."""
    checked = [
        _("odometer readings for rollbacks, impossible jumps and implausible mileage"),
        _("accidents, airbags, frame damage and total losses"),
        _("salvage, flood, fire, stolen and scrapped titles"),
        _("taxi, rental and commercial use, and changes of owner"),
        _("open recalls and failed inspections"),
        _("disputed and corrected records, and sources no longer in good standing"),
    ]
    # True of every report. That no record of the VIN was left out is not said here, on the
    # server's word: the page says it once the browser has checked the VIN index proof.
    not_checked = _(
        "Only what sources reported to carhistory can appear here: no record of an accident "
        "is not proof that there was none. Have the car inspected before you buy."
    )
    return {"checked": checked, "not_checked": not_checked}
