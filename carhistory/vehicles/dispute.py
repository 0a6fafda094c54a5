"""The public dispute form: anyone reading a report flags one of its entries
(`/vehicles/<VIN>/entries/<index>/dispute`). It lives with the report it is reached from;
moderation takes the dispute from there.
"""

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carhistory.moderation.models import Dispute
from carhistory.moderation.services import open_dispute
from carhistory.rate_limits import rate_limited
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


# Every request reads a VIN's history, so it costs a report lookup; each sent dispute also counts
# in its own, smaller limit.
@rate_limited("vin_lookup", methods=("GET", "HEAD", "POST"))
@rate_limited("dispute")
def dispute_new(request: HttpRequest, vin: str, index: int) -> HttpResponse:
    check = check_vin(vin)
    if not check.is_valid:
        raise Http404(_("There is no such entry in this vehicle's history."))
    # The page answers alike whether or not entry `index` is this VIN's, so it cannot be asked
    # which VINs have records; a dispute about an entry that is not the VIN's is dropped.
    entry = entries_by_index([index]).get(index)
    context = {"vin": check.vin, "index": index}
    form = DisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if entry is not None and entry.vin == check.vin:
            open_dispute(
                entry=entry,
                reason=form.cleaned_data["reason"],
                reporter_contact=form.cleaned_data["reporter_contact"],
            )
        return render(request, "vehicles/dispute_thanks.html", context)
    return render(request, "vehicles/dispute_new.html", {"form": form, **context})
