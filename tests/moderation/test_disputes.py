"""A reader flags an entry; a moderator corrects it with a new entry, or rejects the dispute."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.formats import date_format

from carhistory.moderation.models import AuditEntry, Dispute
from carhistory.moderation.selectors import disputes_by_index
from carhistory.sources.models import Organisation
from ledger.models import Entry
from ledger.services import integrate_pending
from tests.moderation.factories import (
    entry_object,
    integrated_entry,
    logged_entry,
    make_moderator,
)
from tests.sources.factories import OrganisationFactory, make_vin

pytestmark = pytest.mark.django_db

VIN = make_vin(7)


@pytest.fixture
def entry():
    return logged_entry(OrganisationFactory(kind="dealer_4s"), vin=VIN, odometer_km=152000)


def _dispute_url(vin, index):
    return reverse("vehicles:dispute-new", kwargs={"vin": vin, "index": index})


def test_anyone_can_flag_an_entry_of_a_report(client, entry):
    page = client.get(_dispute_url(VIN, entry.index))
    assert page.status_code == 200

    response = client.post(
        _dispute_url(VIN, entry.index),
        {"reason": "The odometer read 15,200 km, not 152,000.", "reporter_contact": "13800000000"},
    )

    assert response.status_code == 200
    dispute = Dispute.objects.get()
    assert (dispute.entry_index, dispute.vin, dispute.status) == (entry.index, VIN, "open")
    assert dispute.reporter_contact == "13800000000"
    assert disputes_by_index([entry.index, entry.index + 100]) == {entry.index: [dispute]}


def test_the_form_shows_the_line_being_flagged_as_the_report_shows_it(client, entry):
    page = client.get(_dispute_url(VIN, entry.index)).content.decode()
    line = page[page.index("data-disputed-line") : page.index("</section>")]
    report = client.get(reverse("vehicles:report", args=[VIN])).content.decode()
    shown = report[report.index(f'id="entry-{entry.index}"') :]
    occurred = datetime.date.fromisoformat(entry_object(entry)["occurred_at"])
    name = Organisation.objects.get(slug=entry.source).name
    for part in (
        '<strong class="event-type">Service</strong>',
        f'<span class="event-date">{date_format(occurred, "DATE_FORMAT")}</span>',
        '<span class="event-odometer">152,000 km</span>',
        "Service at 152,000 km: engine oil, oil filter.",
        f'Source: <span class="source-name">{name}</span> (4S dealer)',
        "<dt>items</dt><dd>oil, oil filter</dd>",
    ):
        assert part in line
        assert part in shown  # the same words as the report's own line
    assert '<form method="post"' in page


def test_a_line_the_report_does_not_have_is_said_plainly_and_no_form_is_offered(client, entry):
    for vin, index in ((make_vin(8), entry.index), (VIN, entry.index + 100)):
        response = client.get(_dispute_url(vin, index))
        page = response.content.decode()
        assert response.status_code == 200
        assert f"There is no entry {index} in the report of {vin}" in page
        assert '<form method="post"' not in page
        assert client.post(_dispute_url(vin, index), {"reason": "wrong"}).status_code == 200
    assert not Dispute.objects.exists()


def test_the_dispute_page_speaks_chinese(client, entry):
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    page = client.get(_dispute_url(VIN, entry.index), **chinese).content.decode()
    assert f"{VIN} 历史记录中的条目 {entry.index}" in page
    assert "保养" in page  # the line's type, in the report's Chinese words
    assert "来源：" in page
    missing = client.get(_dispute_url(VIN, entry.index + 100), **chinese).content.decode()
    assert f"{VIN} 的报告中没有条目 {entry.index + 100}" in missing
    sent = client.post(_dispute_url(VIN, entry.index), {"reason": "里程有误"}, **chinese)
    assert "审核员受理后" in sent.content.decode()


def test_a_lower_case_vin_in_the_address_still_finds_the_entry(client, entry):
    assert client.get(_dispute_url(VIN.lower(), entry.index)).status_code == 200


# The page answers alike for entries that are not the VIN's (tests/moderation/test_abuse.py),
# so it is no oracle for which VINs have records; such a dispute is dropped.
def test_flagging_an_entry_that_does_not_exist_opens_nothing(client, entry):
    assert client.get(_dispute_url(VIN, entry.index + 1)).status_code == 200
    assert client.post(_dispute_url(VIN, 999), {"reason": "wrong"}).status_code == 200
    assert not Dispute.objects.exists()


def test_flagging_another_vehicles_entry_opens_nothing(client, entry):
    other_vin = make_vin(8)
    response = client.post(_dispute_url(other_vin, entry.index), {"reason": "wrong"})
    assert response.status_code == 200
    assert not Dispute.objects.exists()


def test_a_dispute_needs_a_reason(client, entry):
    response = client.post(_dispute_url(VIN, entry.index), {"reason": ""})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not Dispute.objects.exists()


def test_flagging_without_csrf_token_is_forbidden(entry):
    response = Client(enforce_csrf_checks=True).post(
        _dispute_url(VIN, entry.index), {"reason": "wrong"}
    )
    assert response.status_code == 403
    assert not Dispute.objects.exists()


def test_a_correction_entry_pointing_at_the_disputed_entry_resolves_it(client, entry):
    dispute = Dispute.objects.create(entry_index=entry.index, vin=VIN, reason="152000 is a typo")
    moderator = make_moderator()
    client.force_login(moderator)
    assert "152000 is a typo" in client.get(reverse("moderation:queue")).content.decode()

    response = client.post(
        reverse("moderation:dispute", args=[dispute.pk]),
        {
            "correct-reason": "Workshop confirmed a typing error",
            "correct-note": "Called the workshop; invoice 88121 says 15,200 km",
            "correct-odometer_km": "15200",
            "correct": "1",
        },
    )

    assert response.status_code == 302
    # Enqueued with the audit row and the dispute's resolution; both pages say "pending"
    # until the sequencer logs it, and then name its index.
    dispute.refresh_from_db()
    assert not Entry.objects.filter(type="correction").exists()
    detail = reverse("moderation:dispute", args=[dispute.pk])
    assert '(<span class="badge warn">pending</span>)' in client.get(detail).content.decode()
    correction = integrated_entry(dispute.correction_pending_id)
    assert f"(#{correction.index})" in client.get(detail).content.decode()
    body = entry_object(correction)
    assert body["vin"] == VIN
    assert body["source"] == "platform"
    assert body["facts"] == {
        "corrects": entry.index,
        "reason": "Workshop confirmed a typing error",
        "odometer_km": 15200,
    }
    assert correction.index > entry.index
    assert dispute.status == "corrected"
    # The disputed entry itself is untouched: the log is append-only.
    assert entry_object(Entry.objects.get(index=entry.index))["odometer_km"] == 152000
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.dispute, audit.entry_index, audit.pending_id) == (
        "correct_entry",
        dispute,
        entry.index,
        dispute.correction_pending_id,
    )
    # The private note stays in the audit trail, out of the public log.
    assert audit.reason == "Called the workshop; invoice 88121 says 15,200 km"
    assert "invoice 88121" not in bytes(correction.data).decode()


@pytest.mark.parametrize(
    ("fields", "field_in_error"),
    [
        ({"correct-odometer_km": "36,100"}, "odometer_km"),
        ({"correct-odometer_km": "-5"}, "odometer_km"),
        ({"correct-occurred_at": "2099-01-01"}, "occurred_at"),
        ({"correct-occurred_at": "03/05/2024"}, "occurred_at"),
        ({"correct-void": "on", "correct-odometer_km": "1"}, "void"),
        ({}, None),
    ],
)
def test_a_correction_is_checked_by_the_schema_of_its_type(client, entry, fields, field_in_error):
    dispute = Dispute.objects.create(entry_index=entry.index, vin=VIN, reason="typo")
    client.force_login(make_moderator())
    response = client.post(
        reverse("moderation:dispute", args=[dispute.pk]),
        {"correct-reason": "r", "correct": "1", **fields},
    )
    assert response.status_code == 200
    errors = response.context["correction_form"].errors
    assert (field_in_error or "__all__") in errors
    assert not Entry.objects.filter(type="correction").exists()
    assert not AuditEntry.objects.exists()


def test_the_service_refuses_a_bad_correction_whoever_calls_it(entry):
    from django.core.exceptions import ValidationError

    from carhistory.moderation.services import append_correction

    for fields in ({"odometer_km": "36,100"}, {"severity": "minor"}, {"corrects": 1}, {}):
        with pytest.raises(ValidationError):
            append_correction(
                moderator=make_moderator(),
                entry_index=entry.index,
                vin=VIN,
                reason="r",
                corrected_fields=fields,
            )
    assert not Entry.objects.filter(type="correction").exists()


def test_the_report_shows_old_and_new_on_the_corrected_line(client, entry):
    from carhistory.moderation.services import append_correction

    append_correction(
        moderator=make_moderator(),
        entry_index=entry.index,
        vin=VIN,
        reason="Typing error at the workshop",
        corrected_fields={"odometer_km": 15200},
    )
    integrate_pending(wait=True)
    page = client.get(reverse("vehicles:report", args=[VIN])).content.decode()
    assert "<del>152,000</del> → <ins>15200</ins>" in page or (
        "152000</del>" in page and "<ins>15200</ins>" in page
    )
    assert "Typing error at the workshop" in page


def test_rejecting_a_dispute_keeps_the_log_as_it_is(client, entry):
    dispute = Dispute.objects.create(entry_index=entry.index, vin=VIN, reason="I disagree")
    client.force_login(make_moderator())
    size = Entry.objects.count()

    client.post(
        reverse("moderation:dispute", args=[dispute.pk]),
        {"reject-reason": "The invoice confirms the reading", "reject": "1"},
    )

    dispute.refresh_from_db()
    assert dispute.status == "rejected"
    assert dispute.resolution_reason == "The invoice confirms the reading"
    assert Entry.objects.count() == size
    assert AuditEntry.objects.get().action == "reject_dispute"


def test_a_closed_dispute_cannot_be_resolved_twice(client, entry):
    dispute = Dispute.objects.create(entry_index=entry.index, vin=VIN, reason="typo")
    client.force_login(make_moderator())
    url = reverse("moderation:dispute", args=[dispute.pk])
    client.post(url, {"reject-reason": "no", "reject": "1"})
    client.post(
        url,
        {"correct-reason": "yes", "correct-odometer_km": "1", "correct": "1"},
    )
    dispute.refresh_from_db()
    assert dispute.status == "rejected"
    assert not Entry.objects.filter(type="correction").exists()
    assert AuditEntry.objects.count() == 1


def test_the_moderator_sees_the_disputed_entry_next_to_the_complaint(client, entry):
    dispute = Dispute.objects.create(entry_index=entry.index, vin=VIN, reason="152000 is a typo")
    client.force_login(make_moderator())
    content = client.get(reverse("moderation:dispute", args=[dispute.pk])).content.decode()
    assert "152000 is a typo" in content
    assert "&quot;odometer_km&quot;: 152000" in content
    assert "Append the correction" in content
    # The form starts from what the log says now, field by field.
    assert 'name="correct-odometer_km" value="152000"' in content


def _disputed(client, index):
    report = client.get(f"/api/v1/vehicles/{VIN}/report").json()
    return [event["disputed"] for event in report["events"] if event["index"] == index]


def test_an_accepted_dispute_shows_at_once_in_a_cached_report(
    client, entry, django_capture_on_commit_callbacks
):
    assert _disputed(client, entry.index) == [False]  # now cached for this tree size

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_dispute_url(VIN, entry.index), {"reason": "The reading is ten times too high"})
    # One anonymous click changes nothing public.
    assert _disputed(client, entry.index) == [False]

    client.force_login(make_moderator())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("moderation:dispute-accept", args=[Dispute.objects.get().pk]))
    assert _disputed(client, entry.index) == [True]


def test_a_rejected_dispute_leaves_a_cached_report_at_once(
    client, entry, django_capture_on_commit_callbacks
):
    dispute = Dispute.objects.create(
        entry_index=entry.index, vin=VIN, reason="I disagree", status="under_review"
    )
    assert _disputed(client, entry.index) == [True]
    client.force_login(make_moderator())

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("moderation:dispute", args=[dispute.pk]),
            {"reject-reason": "The invoice confirms the reading", "reject": "1"},
        )

    assert _disputed(client, entry.index) == [False]


def test_an_anonymous_dispute_marks_the_report_only_once_accepted_for_review(
    client, entry, django_capture_on_commit_callbacks, mailoutbox
):
    from tests.sources.factories import MembershipFactory

    organisation = OrganisationFactory._meta.model.objects.get(slug=entry.source)
    organisation.contact_email = "service@dealer.example.cn"
    organisation.save()
    member = MembershipFactory(organisation=organisation)
    client.post(_dispute_url(VIN, entry.index), {"reason": "The odometer read 15,200 km."})
    dispute = Dispute.objects.get()
    assert _disputed(Client(), entry.index) == [False]

    moderator = Client()
    moderator.force_login(make_moderator())
    with django_capture_on_commit_callbacks(execute=True):
        moderator.post(reverse("moderation:dispute-accept", args=[dispute.pk]))

    dispute.refresh_from_db()
    assert dispute.status == "under_review"
    assert _disputed(Client(), entry.index) == [True]
    [notice] = mailoutbox
    assert sorted(notice.to) == sorted(["service@dealer.example.cn", member.user.email])
    assert f"#{entry.index}" in notice.subject
    assert "/portal/disputes/" in notice.body

    # The source answers in its portal; the moderators see the answer.
    source = Client()
    source.force_login(member.user)
    assert "The odometer read 15,200 km." in source.get(reverse("portal:disputes")).content.decode()
    source.post(
        reverse("portal:disputes"),
        {"dispute": dispute.pk, "answer": "Our invoice 88121 says 152,000 km."},
    )
    dispute.refresh_from_db()
    assert dispute.source_answer == "Our invoice 88121 says 152,000 km."
    page = moderator.get(reverse("moderation:dispute", args=[dispute.pk])).content.decode()
    assert "Our invoice 88121" in page


def test_a_source_cannot_see_or_answer_disputes_about_others_records(client, entry):
    from tests.sources.factories import MembershipFactory

    dispute = Dispute.objects.create(
        entry_index=entry.index, vin=VIN, source=entry.source, reason="typo"
    )
    new_only = Dispute.objects.create(
        entry_index=entry.index, vin=VIN, source=entry.source, reason="not yet accepted"
    )
    Dispute.objects.filter(pk=dispute.pk).update(
        status="under_review", accepted_at="2024-01-01T00:00Z"
    )
    outsider = MembershipFactory()
    client.force_login(outsider.user)
    assert "typo" not in client.get(reverse("portal:disputes")).content.decode()
    client.post(reverse("portal:disputes"), {"dispute": dispute.pk, "answer": "mine now"})
    dispute.refresh_from_db()
    assert dispute.source_answer == ""
    # Its own source does not see a dispute no moderator has accepted.
    insider = MembershipFactory(
        organisation=OrganisationFactory._meta.model.objects.get(slug=entry.source)
    )
    client.force_login(insider.user)
    page = client.get(reverse("portal:disputes")).content.decode()
    assert "typo" in page and new_only.reason not in page
