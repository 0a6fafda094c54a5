import json

from django import forms
from django.utils.translation import gettext_lazy as _

from carhistory.moderation.services import CORRECTION_RESERVED_FIELDS


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit trail."),
    )


class ApprovalForm(forms.Form):
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


class CorrectionForm(ReasonForm):
    corrected_fields = forms.CharField(
        label=_("Corrected fields (JSON object)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            'The fields that were wrong, with their right values, e.g. {"odometer_km": 45210}.'
        ),
    )

    def clean_corrected_fields(self) -> dict:
        raw = self.cleaned_data["corrected_fields"]
        try:
            fields = json.loads(raw)
        except ValueError as error:
            raise forms.ValidationError(
                _("This is not valid JSON: %(error)s") % {"error": error}
            ) from None
        if not isinstance(fields, dict) or not fields:
            raise forms.ValidationError(
                _('Enter a JSON object with at least one field, e.g. {"odometer_km": 45210}.')
            )
        clashing = CORRECTION_RESERVED_FIELDS & set(fields)
        if clashing:
            raise forms.ValidationError(
                _("These names are reserved for the correction itself: %(fields)s.")
                % {"fields": ", ".join(sorted(clashing))}
            )
        return fields


class ErasureForm(ReasonForm):
    submission = forms.IntegerField(label=_("Submission number"), min_value=1)
