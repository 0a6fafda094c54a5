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
from carhistory.vin import normalise_vin
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


def dispute_new(request: HttpRequest, vin: str, index: int) -> HttpResponse:
    entry = entries_by_index([index]).get(index)
    if entry is None or entry.vin != normalise_vin(vin):
        raise Http404(_("There is no such entry in this vehicle's history."))
    form = DisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        open_dispute(
            entry=entry,
            reason=form.cleaned_data["reason"],
            reporter_contact=form.cleaned_data["reporter_contact"],
        )
        return render(request, "vehicles/dispute_thanks.html", {"entry": entry})
    return render(request, "vehicles/dispute_new.html", {"form": form, "entry": entry})
