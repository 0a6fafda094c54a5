import datetime
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from carhistory.service_items import ServiceItem, canonical_items, split_items
from carhistory.sources import roles
from carhistory.sources.schemas import EventType

# The two events a workshop logs on a phone at the counter.
QUICK_EVENT_TYPES = (EventType.SERVICE, EventType.ODOMETER)


class QuickEventForm(forms.Form):
    """A service or an odometer reading, typed with one thumb in under 30 seconds."""

    event_type = forms.ChoiceField(label=_("What happened"), widget=forms.RadioSelect)
    vin = forms.CharField(
        label=_("VIN"),
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "data-vin-check": "",
                "autocapitalize": "characters",
                "autocomplete": "off",
                "spellcheck": "false",
                "inputmode": "text",
            }
        ),
    )
    occurred_at = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    odometer_km = forms.IntegerField(
        label=_("Odometer (km)"),
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    items = forms.MultipleChoiceField(
        label=_("Items (service)"),
        choices=ServiceItem.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_items = forms.CharField(
        label=_("Other items, separated by commas"),
        help_text=_("Separate items with a comma (, or ，), 、 or a semicolon."),
        required=False,
        max_length=500,
    )
    # Set when the form is shown: a double tap on "Save" submits the same id twice, and the
    # submission idempotency keeps the second from appending a duplicate entry.
    form_token = forms.UUIDField(widget=forms.HiddenInput)

    # Errors from the schema name submission fields; these are the form fields they belong to.
    SUBMISSION_FIELDS = {
        "type": "event_type",
        "vin": "vin",
        "occurred_at": "occurred_at",
        "odometer_km": "odometer_km",
        "facts.items": "items",
    }

    def __init__(self, *args, kind: str, **kwargs):
        kwargs.setdefault(
            "initial", {"occurred_at": datetime.date.today(), "form_token": uuid.uuid4()}
        )
        super().__init__(*args, **kwargs)
        allowed = [t for t in QUICK_EVENT_TYPES if roles.may_submit_type(kind=kind, event_type=t)]
        self.fields["event_type"].choices = [(t, EventType(t).label) for t in allowed]
        if allowed:
            self.fields["event_type"].initial = allowed[0]

    @property
    def has_types(self) -> bool:
        return bool(self.fields["event_type"].choices)

    def payload(self) -> dict:
        """The submission body (SPEC §5) for the cleaned form."""
        data = self.cleaned_data
        payload = {
            "type": data["event_type"],
            "vin": data["vin"],
            "occurred_at": data["occurred_at"].isoformat(),
            "odometer_km": data["odometer_km"],
            "external_id": f"form-{data['form_token']}",
        }
        if data["event_type"] == EventType.SERVICE:
            # "雨刮片，空调滤芯" is two items; a typed name the vocabulary knows is stored as
            # its code, like the chips, so every report names it alike.
            others = canonical_items(split_items(data["other_items"]))
            payload["facts"] = {"items": list(dict.fromkeys([*data["items"], *others]))}
        return payload

    def add_submission_errors(self, errors: dict[str, list[str]]) -> None:
        for field, messages in errors.items():
            self.add_error(self.SUBMISSION_FIELDS.get(field), list(messages))


class CsvUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class ApiKeyForm(forms.Form):
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        help_text=_("Where the key will be used, e.g. “workshop system”."),
    )


class SigningKeyForm(forms.Form):
    verifier_key = forms.CharField(
        label=_("Ed25519 verifier key"),
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("The one-line verifier key: name+key id+base64 key."),
    )
