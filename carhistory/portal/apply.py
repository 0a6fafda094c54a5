"""The public application form: an organisation asks to become a source (`/sources/apply`).

It lives with the sources' own pages; moderation only sees the applications it records.
"""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from carhistory.moderation.services import submit_application
from carhistory.rate_limits import rate_limited
from carhistory.sources.models import Organisation


class ApplicationForm(forms.ModelForm):
    """What an organisation tells us when it asks to become a source."""

    class Meta:
        model = Organisation
        fields = [
            "name",
            "name_zh_hans",
            "kind",
            "licence_number",
            "region",
            "contact_name",
            "contact_email",
            "contact_phone",
        ]

    # Optional on the model (sources created by other means may lack them), but a moderator
    # cannot check an applicant without its licence and a way to reach it.
    REQUIRED = ("licence_number", "region", "contact_name", "contact_email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.REQUIRED:
            self.fields[name].required = True


@rate_limited("application")
def apply(request: HttpRequest) -> HttpResponse:
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        submit_application(**form.cleaned_data)
        return redirect("portal:apply-thanks")
    return render(request, "portal/apply.html", {"form": form})


def apply_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/apply_thanks.html")
