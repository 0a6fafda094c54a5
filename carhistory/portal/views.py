"""The source portal: a source's own submissions, quick event form, CSV uploads and keys.

The organisation always comes from the signed-in user's membership (`access`), never from the
request, so these views cannot be pointed at another source's data.
"""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from carhistory import confirmation
from carhistory.moderation import selectors as moderation_selectors
from carhistory.moderation import services as moderation_services
from carhistory.moderation.access import is_moderator
from carhistory.moderation.models import Dispute
from carhistory.portal import csv_format, csv_import
from carhistory.portal import selectors as upload_selectors
from carhistory.portal.access import member_required, source_admin_required
from carhistory.portal.forms import ApiKeyForm, CsvUploadForm, QuickEventForm, SigningKeyForm
from carhistory.portal.models import CsvUpload
from carhistory.portal.tasks import process_csv_upload_task
from carhistory.sources import credit, roles, selectors, services
from carhistory.sources.models import ApiKey, Channel, OrganisationKind

RECENT_SUBMISSIONS = 50


@login_required(login_url="login")
def start(request: HttpRequest) -> HttpResponse:
    """Where signing in lands: moderators on their queue, source staff on their dashboard."""
    if is_moderator(request.user):
        return redirect("moderation:queue")
    return redirect("portal:dashboard")  # which explains what to do to one with no source


@member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    organisation = request.membership.organisation
    submissions = list(selectors.submissions_of(organisation=organisation)[:RECENT_SUBMISSIONS])
    states = selectors.submission_states(submissions)
    return render(
        request,
        "portal/dashboard.html",
        {
            "organisation": organisation,
            "membership": request.membership,
            "rows": list(zip(submissions, states, strict=True)),
            "uploads": upload_selectors.uploads_of(organisation=organisation)[:5],
            "reports_shown": credit.reports_shown_this_month(organisation=organisation),
            "submission_figures": credit.submission_figures(organisation=organisation),
            "dispute_outcomes": moderation_selectors.dispute_outcomes(source=organisation.slug),
        },
    )


@member_required
def event_new(request: HttpRequest) -> HttpResponse:
    organisation = request.membership.organisation
    form = QuickEventForm(request.POST or None, kind=organisation.kind)
    if request.method == "POST" and not organisation.may_submit:
        form.add_error(None, _("Your organisation may not submit events while it is not approved."))
    elif request.method == "POST" and form.is_valid():
        result = services.submit_event(
            organisation=organisation, payload=form.payload(), channel=Channel.FORM
        )
        if result.is_accepted:
            messages.success(request, _("Saved. It enters the log within seconds."))
            return redirect("portal:submission", public_id=result.submission.public_id)
        form.add_submission_errors(result.errors)
    return render(
        request,
        "portal/event_new.html",
        {"form": form, "organisation": organisation, "membership": request.membership},
    )


@member_required
def submission(request: HttpRequest, public_id: str) -> HttpResponse:
    organisation = request.membership.organisation
    state = selectors.submission_status(organisation=organisation, submission_id=public_id)
    if state is None:
        raise Http404
    found = selectors.submission_of(organisation=organisation, submission_id=public_id)
    return render(
        request,
        "portal/submission.html",
        {"submission": found, "state": state, "membership": request.membership},
    )


@member_required
def csv_upload(request: HttpRequest) -> HttpResponse:
    organisation = request.membership.organisation
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        uploaded = form.cleaned_data["file"]
        try:
            upload = csv_import.create_csv_upload(
                organisation=organisation,
                uploaded_by=request.user,
                filename=uploaded.name,
                content=_read_capped(uploaded),
            )
        except ValidationError as error:
            form.add_error("file", error)
        else:
            transaction.on_commit(partial(process_csv_upload_task.delay, upload.pk))
            return redirect("portal:csv-detail", pk=upload.pk)
    return render(
        request,
        "portal/csv_upload.html",
        {
            "form": form,
            "organisation": organisation,
            "membership": request.membership,
            "uploads": upload_selectors.uploads_of(organisation=organisation)[:20],
            "kinds": OrganisationKind.choices,
            "columns": csv_format.template_columns(organisation.kind),
            "types": roles.event_types_for(organisation.kind),
        },
    )


@member_required
def csv_detail(request: HttpRequest, pk: int) -> HttpResponse:
    upload = _own_upload(request, pk)
    return render(
        request, "portal/csv_detail.html", {"upload": upload, "membership": request.membership}
    )


@member_required
@require_GET
def csv_progress(request: HttpRequest, pk: int) -> JsonResponse:
    upload = _own_upload(request, pk)
    return JsonResponse(
        {
            "status": upload.status,
            "finished": upload.is_finished,
            "total_rows": upload.total_rows,
            "processed_rows": upload.processed_rows,
            "percent": upload.percent_done,
            "accepted": upload.accepted,
            "rejected": upload.rejected,
            "duplicates": upload.duplicates,
            "error_report_url": (
                reverse("portal:csv-errors", args=[upload.pk]) if upload.error_report else None
            ),
        }
    )


@member_required
@require_GET
def csv_errors(request: HttpRequest, pk: int) -> HttpResponse:
    upload = _own_upload(request, pk)
    if not upload.error_report:
        raise Http404
    return _csv_response(upload.error_report, f"errors-{upload.pk}.csv")


@require_GET
def csv_template(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in OrganisationKind.values:
        raise Http404
    return _csv_response(csv_import.template_csv(kind), f"carhistory-{kind}.csv")


@source_admin_required
def keys(request: HttpRequest) -> HttpResponse:
    organisation = request.membership.organisation
    api_key_form = ApiKeyForm(
        prefix="api", data=request.POST if "api-label" in request.POST else None
    )
    signing_key_form = SigningKeyForm(
        prefix="signing",
        data=request.POST if "signing-verifier_key" in request.POST else None,
    )
    context = {"organisation": organisation, "membership": request.membership}
    if api_key_form.is_bound and api_key_form.is_valid():
        api_key, raw_key = services.create_api_key(
            organisation=organisation, label=api_key_form.cleaned_data["label"]
        )
        # Shown in this response only: the key is stored hashed.
        context.update(new_api_key=api_key, raw_key=raw_key)
        api_key_form = ApiKeyForm(prefix="api")
    if signing_key_form.is_bound and signing_key_form.is_valid():
        try:
            signing_key = services.register_signing_key(
                organisation=organisation,
                verifier_key=signing_key_form.cleaned_data["verifier_key"],
            )
        except services.SourceError as error:
            signing_key_form.add_error("verifier_key", str(error))
        else:
            context["new_signing_key"] = signing_key
            signing_key_form = SigningKeyForm(prefix="signing")
    context.update(
        api_key_form=api_key_form,
        signing_key_form=signing_key_form,
        api_keys=ApiKey.objects.filter(organisation=organisation),
        signing_keys=selectors.signing_keys_of(organisation=organisation),
    )
    return render(request, "portal/keys.html", context)


@source_admin_required
@require_POST
def revoke_api_key(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk, organisation=request.membership.organisation)
    if not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=_("Revoke the API key %(prefix)s?") % {"prefix": api_key.prefix},
            consequence=_(
                "Every system that sends with this key is refused from now on. A revoked key "
                "cannot be brought back: create a new one and give it to those systems."
            ),
            cancel_url=reverse("portal:keys"),
            action=request.path,
        )
    services.revoke_api_key(api_key=api_key)
    messages.success(request, _("The key %(prefix)s is revoked.") % {"prefix": api_key.prefix})
    return redirect("portal:keys")


def _own_upload(request: HttpRequest, pk: int) -> CsvUpload:
    upload = upload_selectors.upload_of(organisation=request.membership.organisation, upload_id=pk)
    if upload is None:
        raise Http404
    return upload


def _read_capped(uploaded) -> bytes:
    # Read one byte past the limit, never the whole of an oversized file, so that
    # create_csv_upload can refuse it by its size.
    return uploaded.read(settings.CSV_UPLOAD_MAX_BYTES + 1)


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@member_required
def disputes(request: HttpRequest) -> HttpResponse:
    """Disputes about this source's records that moderators have accepted for review; the
    source answers each before the moderators decide."""
    organisation = request.membership.organisation
    if request.method == "POST":
        dispute = get_object_or_404(
            Dispute, pk=_whole_number(request.POST.get("dispute")), source=organisation.slug
        )
        try:
            moderation_services.answer_dispute(
                organisation=organisation, dispute=dispute, answer=request.POST.get("answer", "")
            )
        except moderation_services.REFUSALS as error:
            messages.error(request, " ".join(moderation_services.refusal_messages(error)))
        else:
            messages.success(request, _("Your answer is with the moderators."))
        return redirect("portal:disputes")
    return render(
        request,
        "portal/disputes.html",
        {
            "organisation": organisation,
            "disputes": moderation_selectors.disputes_against_with_corrections(
                source=organisation.slug
            ),
        },
    )


def _whole_number(text: str | None) -> int:
    if not (text or "").isdigit():
        raise Http404
    return int(text)
