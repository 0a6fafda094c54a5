"""The public dispute form: anyone reading a report flags one of its lines
(`/vehicles/<VIN>/entries/<index>/dispute`). It lives with the report it is reached from;
moderation takes the dispute from there.

The page shows the line being flagged as the report shows it, or says plainly that the car's
report has no such line. Either answer tells no more than the report itself, and the page costs
a report lookup (the `vin_lookup` limit), so it is no cheaper oracle for which VINs have
records than the report is.
"""

import json

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carhistory.moderation.models import Dispute
from carhistory.moderation.services import open_dispute
from carhistory.rate_limits import rate_limited
from carhistory.vehicles.cache import report_json
from carhistory.vehicles.views import presentable_event
from carhistory.vin import check_vin
from ledger.selectors import entries_by_index


class DisputeForm(forms.ModelForm):
    class Meta:
        model = Dispute
        fields = ["reason", "reporter_contact"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "reason": gettext_lazy(
                "Say what is wrong with this line and, if you can, what is right."
            ),
            "reporter_contact": gettext_lazy(
                "An e-mail or phone number, if you want to hear the outcome."
            ),
        }


def report_line(*, vin: str, index: int) -> dict | None:
    """Line `index` of the report of `vin` as the report page shows it (type, date, source,
    facts, corrections), or None when that report has no such line."""
    events = json.loads(report_json(vin=vin))["events"]
    event = next((event for event in events if event["index"] == index), None)
    return presentable_event(event) if event is not None else None


# Every request reads a VIN's history, so it costs a report lookup; each sent dispute also counts
# in its own, smaller limit.
@rate_limited("vin_lookup", methods=("GET", "HEAD", "POST"))
@rate_limited("dispute")
def dispute_new(request: HttpRequest, vin: str, index: int) -> HttpResponse:
    check = check_vin(vin)
    if not check.is_valid:
        raise Http404(_("There is no such entry in this vehicle's history."))
    line = report_line(vin=check.vin, index=index)
    context = {"vin": check.vin, "index": index, "line": line}
    if line is None:
        # No form to offer: the page says the report has no such line.
        return render(request, "vehicles/dispute_new.html", context)
    form = DisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        open_dispute(
            entry=entries_by_index([index])[index],
            reason=form.cleaned_data["reason"],
            reporter_contact=form.cleaned_data["reporter_contact"],
        )
        return render(request, "vehicles/dispute_thanks.html", context)
    return render(request, "vehicles/dispute_new.html", {"form": form, **context})
