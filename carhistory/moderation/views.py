"""Moderation pages and the two public forms that feed them (applications and disputes)."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carhistory.moderation import selectors, services
from carhistory.moderation.access import moderator_required
from carhistory.moderation.forms import (
    ApplicationForm,
    ApprovalForm,
    CorrectionForm,
    DisputeForm,
    ErasureForm,
    ReasonForm,
    SourceProfileForm,
    SourceStatusForm,
)
from carhistory.moderation.models import Dispute
from carhistory.rate_limits import rate_limited
from carhistory.sources.models import Organisation, OrganisationStatus, Submission
from carhistory.vin import check_vin, normalise_vin
from ledger.selectors import entries_by_index


@rate_limited("application")
def apply(request: HttpRequest) -> HttpResponse:
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.submit_application(**form.cleaned_data)
        return redirect("moderation:apply-thanks")
    return render(request, "moderation/apply.html", {"form": form})


def apply_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "moderation/apply_thanks.html")


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
            services.open_dispute(
                entry=entry,
                reason=form.cleaned_data["reason"],
                reporter_contact=form.cleaned_data["reporter_contact"],
            )
        return render(request, "moderation/dispute_thanks.html", context)
    return render(request, "moderation/dispute_new.html", {"form": form, **context})


QUEUE_PAGE_SIZE = 25


@moderator_required
def queue(request: HttpRequest) -> HttpResponse:
    # Each list pages on its own, so a long list of sources never hides the disputes.
    def page(queryset, parameter: str):
        return Paginator(queryset, QUEUE_PAGE_SIZE).get_page(request.GET.get(parameter))

    return render(
        request,
        "moderation/queue.html",
        {
            "applications": page(selectors.pending_applications(), "applications_page"),
            "disputes": page(selectors.open_disputes().order_by("pk"), "disputes_page"),
            "sources": page(selectors.moderated_sources(), "sources_page"),
            "audit_entries": selectors.recent_audit_entries(limit=20),
        },
    )


@moderator_required
@require_POST
def approve_application(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk)
    form = ApprovalForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
        return redirect("moderation:queue")
    try:
        api_key, raw_key = services.approve_application(
            moderator=request.user,
            organisation=organisation,
            reason=form.cleaned_data["reason"],
            site_url=request.build_absolute_uri("/"),
        )
    except services.REFUSALS as error:
        messages.error(request, " ".join(services.refusal_messages(error)))
        return redirect("moderation:queue")
    # The raw key is shown on this response only: it is stored hashed and cannot be shown again.
    return render(
        request,
        "moderation/approved.html",
        {
            "organisation": organisation,
            "api_key": api_key,
            "raw_key": raw_key,
            "members": organisation.memberships.select_related("user"),
        },
    )


@moderator_required
def reject_application(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk, status=OrganisationStatus.APPLIED)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.reject_application(
                moderator=request.user,
                organisation=organisation,
                reason=form.cleaned_data["reason"],
            )
        except services.REFUSALS as error:
            form.add_error(None, services.refusal_messages(error))
        else:
            messages.success(request, _("The application was rejected."))
            return redirect("moderation:queue")
    return render(
        request,
        "moderation/reason_form.html",
        {
            "form": form,
            "title": _("Reject the application of %(name)s") % {"name": organisation.name},
            "subject": organisation,
        },
    )


@moderator_required
def source_status(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk)
    form = SourceStatusForm(request.POST or None, initial={"status": request.GET.get("status")})
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.change_source_status(
                moderator=request.user,
                organisation=organisation,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except services.REFUSALS as error:
            form.add_error(None, services.refusal_messages(error))
        else:
            organisation.refresh_from_db(fields=["status"])
            messages.success(
                request,
                _("%(name)s is now %(status)s; log entry %(index)s records it.")
                % {
                    "name": organisation.name,
                    "status": organisation.get_status_display(),
                    "index": entry.index,
                },
            )
            return redirect("moderation:queue")
    return render(
        request,
        "moderation/reason_form.html",
        {
            "form": form,
            "title": _("Change the status of %(name)s") % {"name": organisation.name},
            "subject": organisation,
        },
    )


@moderator_required
def source_profile(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk)
    initial = {"kind": organisation.kind, "name": organisation.name}
    form = SourceProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_source_profile(
                moderator=request.user, organisation=organisation, **form.cleaned_data
            )
        except services.REFUSALS as error:
            form.add_error(None, services.refusal_messages(error))
        else:
            messages.success(request, _("The change is recorded in the log and the audit trail."))
            return redirect("moderation:queue")
    return render(
        request,
        "moderation/reason_form.html",
        {
            "form": form,
            "title": _("Change the kind or name of %(name)s") % {"name": organisation.name},
            "subject": organisation,
        },
    )


@moderator_required
@require_POST
def accept_dispute(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(Dispute, pk=pk)
    try:
        services.accept_dispute(
            moderator=request.user, dispute=dispute, site_url=request.build_absolute_uri("/")
        )
    except services.REFUSALS as error:
        messages.error(request, " ".join(services.refusal_messages(error)))
    else:
        messages.success(
            request,
            _("The dispute is under review: the report marks the line, the source is told."),
        )
    return redirect("moderation:dispute", pk=dispute.pk)


@moderator_required
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(Dispute, pk=pk)
    entry = entries_by_index([dispute.entry_index]).get(dispute.entry_index)
    logged = json.loads(bytes(entry.data)) if entry is not None else {}
    correction_form = CorrectionForm(prefix="correct", entry=logged)
    reject_form = ReasonForm(prefix="reject")
    if request.method == "POST" and dispute.status in Dispute.UNRESOLVED:
        if "correct" in request.POST:
            correction_form = CorrectionForm(request.POST, prefix="correct", entry=logged)
            if correction_form.is_valid():
                return _resolve(
                    request,
                    correction_form,
                    services.correct_dispute,
                    dispute=dispute,
                    corrected_fields=correction_form.corrected_fields,
                    note=correction_form.cleaned_data["note"],
                )
        else:
            reject_form = ReasonForm(request.POST, prefix="reject")
            if reject_form.is_valid():
                return _resolve(request, reject_form, services.reject_dispute, dispute=dispute)
    return render(
        request,
        "moderation/dispute_detail.html",
        {
            "dispute": dispute,
            "entry_json": _readable(entry) if entry is not None else None,
            "correction_form": correction_form,
            "reject_form": reject_form,
        },
    )


@moderator_required
def erase(request: HttpRequest) -> HttpResponse:
    form = ErasureForm(request.POST or None, initial={"submission": request.GET.get("submission")})
    if request.method == "POST" and form.is_valid():
        submission = Submission.objects.filter(pk=form.cleaned_data["submission"]).first()
        if submission is None:
            form.add_error("submission", _("There is no submission with this number."))
        else:
            try:
                services.erase_private_details(
                    moderator=request.user,
                    submission=submission,
                    reason=form.cleaned_data["reason"],
                )
            except services.REFUSALS as error:
                form.add_error(None, services.refusal_messages(error))
            else:
                messages.success(request, _("The private details were erased; the entry stays."))
                return redirect("moderation:queue")
    vin = normalise_vin(request.GET.get("vin", ""))
    return render(
        request,
        "moderation/erase.html",
        {
            "form": form,
            "vin": vin,
            "records": selectors.private_records_for_vin(vin) if vin else None,
        },
    )


def _readable(entry) -> str:
    return json.dumps(json.loads(bytes(entry.data)), indent=2, ensure_ascii=False)


def _resolve(request: HttpRequest, form, action, **arguments) -> HttpResponse:
    try:
        action(moderator=request.user, reason=form.cleaned_data["reason"], **arguments)
    except services.REFUSALS as error:
        messages.error(request, " ".join(services.refusal_messages(error)))
    else:
        messages.success(request, _("The dispute is resolved."))
    return redirect("moderation:queue")
