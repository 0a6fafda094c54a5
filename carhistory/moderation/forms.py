from carhistory_verifier.submit.records import fact_kinds
from django import forms
from django.utils.translation import gettext_lazy as _

from carhistory.sources import schemas
from carhistory.sources.models import OrganisationKind


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit trail."),
    )


class ApprovalForm(forms.Form):
    slug = forms.SlugField(
        label=_("Public id"),
        max_length=64,
        required=False,
        help_text=_("Made from the name (pinyin for Chinese); change it before approving."),
    )
    reason = forms.CharField(
        label=_("Note (optional)"),
        max_length=2000,
        required=False,
        help_text=_("Written into the public log with the approval."),
    )


class SourceStatusForm(ReasonForm):
    status = forms.ChoiceField(
        label=_("New status"),
        choices=[
            ("suspended", _("Suspend")),
            ("reinstated", _("Reinstate")),
            ("revoked", _("Revoke (final)")),
        ],
    )


class SourceProfileForm(ReasonForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=OrganisationKind.choices)
    name = forms.CharField(label=_("Name"), max_length=200)
    name_zh_hans = forms.CharField(
        label=_("Name in Chinese"),
        max_length=200,
        required=False,
        help_text=_("What Chinese pages show; empty shows the name above."),
    )


class CorrectionForm(forms.Form):
    """A correction edited field by field: each field of the entry's type, filled with what the
    log says now; only the fields the moderator changes go into the correction, and the same
    schema as a submission of that type checks them (`schemas.validate_correction`)."""

    LIST_SEPARATOR = "|"

    void = forms.BooleanField(
        label=_("Void the whole entry"),
        required=False,
        help_text=_("Withdraws the entry from the report; change no field then."),
    )
    reason = forms.CharField(
        label=_("Public reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Written into the public log and shown on the report beside the change."),
    )
    note = forms.CharField(
        label=_("Private note for the moderators"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the audit trail only: evidence seen, who was contacted."),
    )

    def __init__(self, *args, entry: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.entry = entry
        self.kinds = fact_kinds()
        facts = entry.get("facts") or {}
        for name in schemas.correctable_fields(entry.get("type", "")):
            current = entry.get(name) if name in ("occurred_at", "odometer_km") else facts.get(name)
            self.fields[name] = forms.CharField(
                label=name, required=False, initial=self._shown(name, current)
            )

    def _shown(self, name: str, value) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return f" {self.LIST_SEPARATOR} ".join(map(str, value))
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def _parsed(self, name: str, text: str):
        kind = "integer" if name == "odometer_km" else self.kinds.get(name, "text")
        if kind == "list":
            return [item.strip() for item in text.split(self.LIST_SEPARATOR) if item.strip()]
        if kind == "boolean":
            return {"true": True, "false": False}.get(text.strip().lower(), text)
        if kind == "integer" and text.strip().isdigit():
            return int(text.strip())
        return text  # as typed: the schema words the error ("36,100" is not a reading)

    def clean(self):
        cleaned = super().clean()
        self.corrected_fields = {
            name: self._parsed(name, cleaned.get(name) or "")
            for name in schemas.correctable_fields(self.entry.get("type", ""))
            # A field left blank is left as logged: no fact of the schema may be emptied.
            if name in self.changed_data and (cleaned.get(name) or "").strip()
        }
        if cleaned.get("void"):
            self.corrected_fields[schemas.VOID] = True
        _fields, errors = schemas.validate_correction(
            entry=self.entry, corrected_fields=self.corrected_fields
        )
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)
        return cleaned


class ErasureForm(ReasonForm):
    submission = forms.IntegerField(label=_("Submission number"), min_value=1)
