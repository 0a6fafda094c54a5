"""Moderation pages: the queue and the seven moderator actions. The public forms that feed it
live with the public pages (`portal.apply`, `vehicles.dispute`)."""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from carhistory import confirmation
from carhistory.moderation import selectors, services
from carhistory.moderation.access import moderator_required
from carhistory.moderation.forms import (
    ApprovalForm,
    CorrectionForm,
    ErasureForm,
    ReasonForm,
    SourceProfileForm,
    SourceStatusForm,
)
from carhistory.moderation.models import Dispute
from carhistory.sources.models import Organisation, OrganisationStatus, Submission
from carhistory.vin import normalise_vin
from ledger.selectors import entries_by_index

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
    if form.cleaned_data["slug"]:
        try:
            # Settled first: the confirmation page names the slug the log will carry.
            services.rename_applicant(organisation=organisation, slug=form.cleaned_data["slug"])
        except services.REFUSALS as error:
            messages.error(request, " ".join(services.refusal_messages(error)))
            return redirect("moderation:queue")
    if not confirmation.is_confirmed(request):
        return confirmation.ask(
            request,
            title=_("Approve %(name)s as a source?") % {"name": organisation.name},
            consequence=_(
                "The approval is written into the public log under the public id %(slug)s, which "
                "then names this source in every entry it logs; its first API key is shown "
                "once, and its contact is e-mailed a link to set a password."
            )
            % {"slug": organisation.slug},
            cancel_url=reverse("moderation:queue"),
            action=request.path,
        )
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
    return _moderator_action(
        request,
        ReasonForm,
        act=lambda data: services.reject_application(
            moderator=request.user, organisation=organisation, reason=data["reason"]
        ),
        done=lambda _result: _("The application was rejected."),
        title=_("Reject the application of %(name)s") % {"name": organisation.name},
        subject=organisation,
    )


@moderator_required
def source_status(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk)

    def done(_pending) -> str:
        organisation.refresh_from_db(fields=["status"])
        # The entry is only enqueued: the audit trail in the queue shows its index once logged.
        return _("%(name)s is now %(status)s; the public log records it.") % {
            "name": organisation.name,
            "status": organisation.get_status_display(),
        }

    return _moderator_action(
        request,
        SourceStatusForm,
        initial={"status": request.GET.get("status")},
        confirm=lambda form: _confirm_status_change(request, form, organisation),
        act=lambda data: services.change_source_status(
            moderator=request.user,
            organisation=organisation,
            status=data["status"],
            reason=data["reason"],
        ),
        done=done,
        title=_("Change the status of %(name)s") % {"name": organisation.name},
        subject=organisation,
    )


def _confirm_status_change(
    request: HttpRequest, form: SourceStatusForm, organisation: Organisation
) -> HttpResponse | None:
    # Suspending and revoking stop the source's keys at once: ask again. Reinstating does not.
    status = form.cleaned_data["status"]
    if status not in ("suspended", "revoked"):
        return None
    if status == "suspended":
        consequence = _(
            "Its API keys stop working at once and the suspension is written into the public log."
        )
    else:
        consequence = _(
            "Its keys stop working for good, every report marks its records as from a "
            "revoked source, and the revocation is written into the public log."
        )
    return confirmation.ask(
        request,
        title=_("%(action)s %(name)s?")
        % {"action": dict(form.fields["status"].choices)[status], "name": organisation.name},
        consequence=consequence,
        cancel_url=reverse("moderation:queue"),
        action=request.get_full_path(),
    )


@moderator_required
def source_profile(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk)
    return _moderator_action(
        request,
        SourceProfileForm,
        initial={
            "kind": organisation.kind,
            "name": organisation.name,
            "name_zh_hans": organisation.name_zh_hans,
        },
        act=lambda data: services.change_source_profile(
            moderator=request.user, organisation=organisation, **data
        ),
        done=lambda _entry: _("The change is recorded in the log and the audit trail."),
        title=_("Change the kind or name of %(name)s") % {"name": organisation.name},
        subject=organisation,
    )


def _moderator_action(
    request: HttpRequest,
    form_class: type[forms.Form],
    *,
    act: Callable[[dict[str, Any]], Any],
    done: Callable[[Any], str],
    title: str,
    subject: Organisation,
    initial: dict[str, Any] | None = None,
    confirm: Callable[[forms.Form], HttpResponse | None] | None = None,
) -> HttpResponse:
    """The one shape of a moderator action on a reason form: a valid POST is (confirmed if
    `confirm` asks, then) handed to `act`, the service call; its result becomes the message
    `done` writes, and the moderator goes back to the queue. A refusal by the service is shown
    on the form, like a field error, and nothing is changed."""
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        question = None
        if confirm is not None and not confirmation.is_confirmed(request):
            question = confirm(form)
        if question is not None:
            return question
        try:
            result = act(form.cleaned_data)
        except services.REFUSALS as error:
            form.add_error(None, services.refusal_messages(error))
        else:
            messages.success(request, done(result))
            return redirect("moderation:queue")
    return render(
        request,
        "moderation/reason_form.html",
        {"form": form, "title": title, "subject": subject},
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
    dispute = selectors.with_correction_index(get_object_or_404(Dispute, pk=pk))
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
        elif not confirmation.is_confirmed(request):
            return confirmation.ask(
                request,
                title=_("Erase the private details of submission %(number)d?")
                % {"number": submission.pk},
                consequence=_(
                    "The details and the salt of their commitment are deleted; the log entry and "
                    "its proofs stay, and nobody can ever link them to those details again."
                ),
                cancel_url=reverse("moderation:erase"),
                action=request.path,
            )
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
