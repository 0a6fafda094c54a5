"""Sources' services: keys, status decisions, signing keys, submissions, erasure."""

import json

import pytest
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from carhistory.sources.models import ApiKey, Organisation, PrivateRecord, SigningKey, Submission
from carhistory.sources.selectors import signing_key_index, submission_status
from carhistory.sources.services import (
    Outcome,
    SourceError,
    apply_for_source,
    authenticate_api_key,
    create_api_key,
    erase_private_record,
    find_api_key,
    install_demo_api_key,
    register_signing_key,
    reject_application,
    retire_signing_key,
    revoke_api_key,
    set_source_status,
    submission_statement,
    submissions,
    submit_event,
    submit_events,
)
from ledger.keys import log_verifier_key
from ledger.models import Entry, PendingEntry
from ledger.selectors import entry_for_pending
from ledger.services import integrate_pending
from tests.sources.factories import (
    OrganisationFactory,
    event_payload,
    make_vin,
    signed_payload,
)

pytestmark = pytest.mark.django_db


def _integrated_entry(submission: Submission) -> dict:
    integrate_pending(wait=True)
    return json.loads(bytes(entry_for_pending(submission.pending_id).data))


# --- API keys ---------------------------------------------------------------------------------


def test_the_raw_key_is_not_stored(dealer):
    api_key, raw = create_api_key(organisation=dealer, label="dms")
    assert raw.split(".", 1)[1] not in api_key.secret_hash
    assert authenticate_api_key(raw) == api_key


def test_several_keys_work_at_once(dealer):
    first = create_api_key(organisation=dealer, label="a")[1]
    second = create_api_key(organisation=dealer, label="b")[1]
    assert authenticate_api_key(first) and authenticate_api_key(second)


@pytest.mark.parametrize("raw", ["", "nonsense", "ch-000000000000.secret", ".", "a.b.c"])
def test_wrong_keys_are_refused(dealer, raw):
    create_api_key(organisation=dealer, label="real")
    assert authenticate_api_key(raw) is None


def test_a_guessed_secret_for_a_real_prefix_is_refused(dealer):
    raw = create_api_key(organisation=dealer, label="real")[1]
    prefix = raw.split(".", 1)[0]
    assert authenticate_api_key(f"{prefix}.guessed") is None


def test_revoked_key_is_refused(dealer):
    api_key, raw = create_api_key(organisation=dealer, label="old")
    revoke_api_key(api_key=api_key)
    assert authenticate_api_key(raw) is None


def test_keys_of_a_suspended_source_stop_working_at_once(dealer):
    raw = create_api_key(organisation=dealer, label="dms")[1]
    set_source_status(organisation=dealer, status="suspended", reason="audit")
    assert authenticate_api_key(raw) is None
    set_source_status(organisation=dealer, status="reinstated", reason="audit passed")
    assert authenticate_api_key(raw) is not None


def test_demo_keys_are_refused_when_debug_is_off(dealer, settings):
    install_demo_api_key(organisation=dealer, raw_key="demo-dealer.published-secret", label="demo")
    settings.DEBUG = True
    assert authenticate_api_key("demo-dealer.published-secret") is not None
    settings.DEBUG = False
    assert authenticate_api_key("demo-dealer.published-secret") is None


def test_a_key_is_found_with_its_organisation_in_one_query_as_the_orm_loads_them(
    dealer, django_assert_num_queries
):
    api_key, raw = create_api_key(organisation=dealer, label="dms")
    authenticate_api_key(raw)  # notes the first use: a write of its own
    with django_assert_num_queries(1):
        found = find_api_key(raw)
        assert found.organisation.may_submit
    loaded = ApiKey.objects.select_related("organisation").get(pk=api_key.pk)
    for model_field in ApiKey._meta.concrete_fields:
        assert getattr(found, model_field.attname) == getattr(loaded, model_field.attname)
    for model_field in Organisation._meta.concrete_fields:
        name = model_field.attname
        assert getattr(found.organisation, name) == getattr(loaded.organisation, name)
    assert found.last_used_at.tzinfo is not None and found.organisation.decided_at.tzinfo


# --- applications and status decisions ---------------------------------------------------------


def test_an_application_is_recorded_for_moderators():
    organisation = apply_for_source(
        slug="hz-xihu-repair", name="Xihu Repair", kind="repair_shop", region="Hangzhou"
    )
    assert organisation.status == "applied"
    assert not organisation.may_submit


@pytest.mark.parametrize(
    ("slug", "kind"),
    [("platform", "repair_shop"), ("Upper-Case", "repair_shop"), ("ok-slug", "scrapyard")],
)
def test_an_application_with_a_reserved_slug_or_unknown_kind_is_refused(slug, kind):
    with pytest.raises(ValidationError):
        apply_for_source(slug=slug, name="Somebody", kind=kind)


def test_the_database_refuses_the_platform_slug():
    with pytest.raises(IntegrityError):
        OrganisationFactory(slug="platform")


def test_a_rejected_application_leaves_the_log_alone():
    organisation = OrganisationFactory(applied=True)
    reject_application(organisation=organisation)
    assert organisation.status == "rejected"
    assert not Entry.objects.exists()


def test_each_status_decision_is_a_log_entry():
    organisation = OrganisationFactory(applied=True)
    entry = set_source_status(organisation=organisation, status="approved", reason="licence ok")
    data = json.loads(bytes(entry.data))
    assert data["type"] == "source_status"
    assert data["source"] == "platform"
    assert data["facts"] == {
        "source": organisation.slug,
        "status": "approved",
        "reason": "licence ok",
        "name": organisation.name,
        "kind": organisation.kind,
    }
    organisation.refresh_from_db()
    assert organisation.status == "approved"
    assert organisation.decided_at is not None


def test_impossible_status_changes_are_refused_and_log_nothing(dealer):
    with pytest.raises(SourceError):
        set_source_status(organisation=dealer, status="reinstated", reason="was never suspended")
    set_source_status(organisation=dealer, status="revoked", reason="fraud")
    with pytest.raises(SourceError):
        set_source_status(organisation=dealer, status="approved", reason="second chance")
    integrate_pending(wait=True)
    assert Entry.objects.filter(type="source_status").count() == 1


# --- signing keys -----------------------------------------------------------------------------


def test_a_signing_key_enters_the_log_before_it_signs(dealer):
    signer = note.Signer.generate(dealer.slug)
    key = register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    # Registering only enqueues the key's entry: nothing waited for the sequencer.
    # Only the key's own entry waits; nothing of the forged event was kept.
    assert list(PendingEntry.objects.values_list("id", flat=True)) == [key.pending_id]
    assert not Entry.objects.exists()
    assert signing_key_index(key) is None

    result = submit_event(
        organisation=dealer, payload=signed_payload(signer, dealer, event_payload())
    )
    integrate_pending(wait=True)
    logged_key = entry_for_pending(key.pending_id)
    key_entry = json.loads(bytes(logged_key.data))
    assert key_entry["type"] == "source_key"
    assert key_entry["facts"] == {"source": dealer.slug, "key": key.verifier_key}
    assert entry_for_pending(result.submission.pending_id).index > logged_key.index
    assert signing_key_index(key) == logged_key.index


def test_a_key_named_after_another_source_is_refused(dealer):
    signer = note.Signer.generate("someone-else")
    with pytest.raises(SourceError, match="named"):
        register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    assert not SigningKey.objects.exists()


@pytest.mark.parametrize("garbage", ["", "not a key", "sh-anting-vw-4s+00000000+AAAA"])
def test_malformed_keys_are_refused(dealer, garbage):
    with pytest.raises(SourceError):
        register_signing_key(organisation=dealer, verifier_key=garbage)


def test_rotation_retires_the_old_key_and_old_entries_stay_verifiable(dealer):
    old = note.Signer.generate(dealer.slug)
    register_signing_key(organisation=dealer, verifier_key=old.verifier().key_string())
    first = submit_event(organisation=dealer, payload=signed_payload(old, dealer, event_payload()))
    new = note.Signer.generate(dealer.slug)
    new_key = register_signing_key(organisation=dealer, verifier_key=new.verifier().key_string())

    assert SigningKey.objects.filter(organisation=dealer, retired_at__isnull=True).count() == 1
    stale = submit_event(organisation=dealer, payload=signed_payload(old, dealer, event_payload()))
    assert stale.outcome == Outcome.INVALID
    entry = _integrated_entry(first.submission)
    assert old.verifier().verify(
        entry_format.statement_bytes(entry), entry_format.b64decode(entry["source_sig"])
    )
    # Signed while the old key was current, so logged before the new key's entry.
    assert entry_for_pending(first.submission.pending_id).index < signing_key_index(new_key)


def test_after_retiring_its_key_a_source_is_signed_for_by_the_platform(dealer):
    signer = note.Signer.generate(dealer.slug)
    key = register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    retire_signing_key(signing_key=key)
    refused = submit_event(
        organisation=dealer, payload=signed_payload(signer, dealer, event_payload())
    )
    assert "source_sig" in refused.errors
    unsigned = submit_event(organisation=dealer, payload=event_payload())
    assert _integrated_entry(unsigned.submission)["source_key"] == log_verifier_key()


def test_the_published_statement_is_what_the_server_verifies(dealer):
    signer = note.Signer.generate(dealer.slug)
    register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    payload = event_payload("repair")
    statement = submission_statement(
        organisation=dealer, payload=payload, source_key=signer.verifier().key_string()
    )
    signature = entry_format.b64encode(signer.sign(statement))
    result = submit_event(organisation=dealer, payload={**payload, "source_sig": signature})
    assert result.outcome == Outcome.ACCEPTED


# --- submissions ------------------------------------------------------------------------------


def test_a_source_without_a_key_is_signed_for_by_the_platform(dealer):
    result = submit_event(organisation=dealer, payload=event_payload(external_id="RO-1"))
    assert result.outcome == Outcome.ACCEPTED
    entry = _integrated_entry(result.submission)
    assert entry["source"] == dealer.slug
    assert entry["source_key"] == log_verifier_key()
    log_key = note.Verifier.from_key_string(log_verifier_key())
    assert log_key.verify(
        entry_format.statement_bytes(entry), entry_format.b64decode(entry["source_sig"])
    )


def test_a_source_signature_is_checked_and_kept(dealer):
    signer = note.Signer.generate(dealer.slug)
    register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    result = submit_event(
        organisation=dealer, payload=signed_payload(signer, dealer, event_payload())
    )
    entry = _integrated_entry(result.submission)
    assert entry["source_key"] == signer.verifier().key_string()


# The order of edwards25519's prime subgroup (RFC 8032 §5.1).
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


@pytest.mark.parametrize("mangle", ["s_plus_order", "truncated", "flipped_bit"])
def test_a_signature_the_verifiers_refuse_is_refused(dealer, mangle):
    # Each of these would make a log entry that carhistory-verify and the browser reject: the
    # first is the malleable twin of a valid signature (s + L checks out in the group).
    signer = note.Signer.generate(dealer.slug)
    register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    payload = signed_payload(signer, dealer, event_payload())
    signature = entry_format.b64decode(payload["source_sig"])
    if mangle == "s_plus_order":
        s = int.from_bytes(signature[32:], "little") + GROUP_ORDER
        signature = signature[:32] + s.to_bytes(32, "little")
    elif mangle == "truncated":
        signature = signature[:63]
    else:
        signature = signature[:10] + bytes([signature[10] ^ 1]) + signature[11:]
    result = submit_event(
        organisation=dealer,
        payload={**payload, "source_sig": entry_format.b64encode(signature)},
    )
    assert result.outcome == Outcome.INVALID
    assert "source_sig" in result.errors


def test_forged_signature_is_refused_and_stores_nothing(dealer):
    signer = note.Signer.generate(dealer.slug)
    key = register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    forger = note.Signer.generate(dealer.slug)
    result = submit_event(
        organisation=dealer, payload=signed_payload(forger, dealer, event_payload())
    )
    assert result.outcome == Outcome.INVALID
    assert "source_sig" in result.errors
    assert not Submission.objects.exists()
    assert list(PendingEntry.objects.values_list("id", flat=True)) == [key.pending_id]


def test_a_signature_over_other_facts_is_refused(dealer):
    signer = note.Signer.generate(dealer.slug)
    register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    signed = signed_payload(signer, dealer, event_payload(odometer_km=45210))
    signed["odometer_km"] = 15210  # the statement said 45,210 km
    assert submit_event(organisation=dealer, payload=signed).outcome == Outcome.INVALID


def test_a_signature_without_a_registered_key_is_refused(dealer):
    forger = note.Signer.generate(dealer.slug)
    result = submit_event(
        organisation=dealer, payload=signed_payload(forger, dealer, event_payload())
    )
    assert "source_sig" in result.errors


def test_same_external_id_returns_the_first_result_and_appends_nothing(dealer):
    first = submit_event(organisation=dealer, payload=event_payload(external_id="RO-7"))
    again = submit_event(organisation=dealer, payload=event_payload(external_id="RO-7"))
    assert again.outcome == Outcome.DUPLICATE
    assert again.submission.public_id == first.submission.public_id
    assert PendingEntry.objects.count() == 1


def test_same_external_id_with_another_body_conflicts_and_appends_nothing(dealer):
    first = submit_event(organisation=dealer, payload=event_payload(external_id="RO-7"))
    changed = submit_event(
        organisation=dealer, payload=event_payload(external_id="RO-7", odometer_km=50000)
    )
    assert changed.outcome == Outcome.CONFLICT
    assert changed.submission.public_id == first.submission.public_id
    assert "external_id" in changed.errors
    assert PendingEntry.objects.count() == 1


def test_a_lost_race_on_an_external_id_returns_the_winners_submission(dealer, monkeypatch):
    winner = submit_event(organisation=dealer, payload=event_payload(external_id="RO-8"))
    real_lookup = submissions._source_now
    lookups = []

    def lookup_that_misses_once(organisation, external_ids):
        # The first look happens before the winner commits; the retry sees it.
        lookups.append(1)
        verifier_key, earlier = real_lookup(organisation, external_ids)
        return verifier_key, {} if len(lookups) == 1 else earlier

    monkeypatch.setattr(submissions, "_source_now", lookup_that_misses_once)
    loser = submit_event(organisation=dealer, payload=event_payload(external_id="RO-8"))
    assert loser.outcome == Outcome.DUPLICATE
    assert loser.submission.public_id == winner.submission.public_id
    assert PendingEntry.objects.count() == 1


def test_external_ids_belong_to_one_source(dealer):
    other = OrganisationFactory(kind="dealer_4s")
    submit_event(organisation=dealer, payload=event_payload(external_id="RO-7"))
    theirs = submit_event(organisation=other, payload=event_payload(external_id="RO-7"))
    assert theirs.outcome == Outcome.ACCEPTED


def test_the_database_refuses_a_second_accepted_submission_for_one_external_id(dealer):
    first = submit_event(organisation=dealer, payload=event_payload(external_id="RO-9"))
    with pytest.raises(IntegrityError):
        Submission.objects.create(
            organisation=dealer,
            external_id="RO-9",
            pending_id=first.submission.pending_id + 1000,
            status="accepted",
            channel="api",
        )


def test_refused_role_is_forbidden_not_invalid(dealer):
    result = submit_event(organisation=dealer, payload=event_payload("insurance_claim"))
    assert result.outcome == Outcome.FORBIDDEN
    assert not Submission.objects.exists()


def test_a_suspended_source_cannot_submit_through_any_channel(dealer):
    set_source_status(organisation=dealer, status="suspended", reason="audit")
    dealer.refresh_from_db()
    for channel in ("form", "csv"):
        result = submit_events(organisation=dealer, payloads=[event_payload()], channel=channel)[0]
        assert result.outcome == Outcome.FORBIDDEN
    assert not Submission.objects.exists()


def test_a_batch_judges_each_event_on_its_own_in_order(dealer):
    payloads = [
        event_payload(external_id="a"),
        event_payload(vin="NOT-A-VIN"),
        event_payload("accident"),
        event_payload(external_id="a"),
        event_payload("odometer", vin=make_vin(2)),
    ]
    results = submit_events(organisation=dealer, payloads=payloads, channel="api")
    assert [r.outcome for r in results] == [
        Outcome.ACCEPTED,
        Outcome.INVALID,
        Outcome.FORBIDDEN,
        Outcome.DUPLICATE,
        Outcome.ACCEPTED,
    ]
    assert results[3].submission == results[0].submission
    assert PendingEntry.objects.count() == 2
    rejected = submission_status(organisation=dealer, submission_id=results[1].submission.public_id)
    assert rejected.status == "rejected"
    assert "vin" in rejected.errors


def test_the_submissions_a_batch_answers_with_are_the_stored_rows(dealer):
    payloads = [
        event_payload(vin=make_vin(1), external_id="RO-1"),
        event_payload("odometer", vin=make_vin(2), private={"invoice": "INV-2"}),
        event_payload(vin="NOT-A-VIN"),
    ]
    results = submit_events(organisation=dealer, payloads=payloads, channel="csv")
    fields = [field.attname for field in Submission._meta.concrete_fields]
    for result in results:
        stored = Submission.objects.get(pk=result.submission.pk)
        assert [getattr(result.submission, name) for name in fields] == [
            getattr(stored, name) for name in fields
        ]
    accepted = Submission.objects.get(pk=results[1].submission.pk)
    assert (accepted.status, accepted.channel, accepted.event_type) == (
        "accepted",
        "csv",
        "odometer",
    )
    assert (accepted.vin, accepted.external_id, accepted.errors) == (make_vin(2), "", {})
    assert accepted.pending_id == PendingEntry.objects.order_by("id").last().id
    assert accepted.private_record.details == {"invoice": "INV-2"}


def test_status_goes_from_pending_to_integrated_with_its_index(dealer):
    result = submit_event(organisation=dealer, payload=event_payload())
    state = submission_status(organisation=dealer, submission_id=result.submission.public_id)
    assert state.status == "pending"
    integrate_pending(wait=True)
    state = submission_status(organisation=dealer, submission_id=result.submission.public_id)
    assert state.status == "integrated"
    assert state.index == entry_for_pending(result.submission.pending_id).index


def test_another_sources_submission_is_not_found(dealer):
    result = submit_event(organisation=dealer, payload=event_payload())
    other = OrganisationFactory()
    assert submission_status(organisation=other, submission_id=result.submission.public_id) is None
    assert submission_status(organisation=dealer, submission_id="not-a-uuid") is None


# --- private details and erasure --------------------------------------------------------------


def test_private_details_never_enter_the_entry_only_their_commitment(dealer):
    private = {"invoice": "INV-2024-0501", "customer": "Zhang San"}
    result = submit_event(organisation=dealer, payload=event_payload(private=private))
    entry = _integrated_entry(result.submission)
    assert "Zhang San" not in json.dumps(entry, ensure_ascii=False)
    record = PrivateRecord.objects.get(submission=result.submission)
    assert entry["private_commitment"] == entry_format.private_commitment(
        salt=bytes(record.salt), private=private
    )


def test_each_event_of_a_batch_keeps_its_own_private_details(dealer):
    details = {
        0: {"customer": "张三", "total_cny": 680, "paid": True, "lines": [{"part": "滤清器"}]},
        2: {"invoice": "INV-2", "note": None},
        3: {"invoice": "INV-3", "nested": {"a": [1, 2, {"b": "c"}]}},
    }
    payloads = [
        event_payload(vin=make_vin(number), private=details.get(number)) for number in range(5)
    ]
    results = submit_events(organisation=dealer, payloads=payloads)
    for number, result in enumerate(results):
        record = PrivateRecord.objects.filter(submission=result.submission).first()
        entry = _integrated_entry(result.submission)
        if number not in details:
            assert record is None and entry["private_commitment"] is None
            continue
        assert record.details == details[number]
        assert entry["private_commitment"] == entry_format.private_commitment(
            salt=bytes(record.salt), private=details[number]
        )


def test_erasure_deletes_details_and_salt_and_keeps_the_entry(dealer):
    result = submit_event(
        organisation=dealer, payload=event_payload(private={"customer": "Zhang San"})
    )
    entry_before = _integrated_entry(result.submission)
    record = erase_private_record(submission=result.submission)
    assert record.is_erased
    assert record.salt is None and record.details is None
    assert _integrated_entry(result.submission) == entry_before
    state = submission_status(organisation=dealer, submission_id=result.submission.public_id)
    assert state.private is None and state.private_erased


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("浦东汽修", "pu-dong-qi-xiu"),
        ("上海安亭大众4S店", "shang-hai-an-ting-da-zhong-4s-dian"),
        ("Pudong Auto 修理", "pudong-auto-xiu-li"),
        ("Ünïcode Garage", "unicode-garage"),
        ("!!!", ""),
    ],
)
def test_a_name_in_any_script_gets_a_readable_slug(name, slug):
    from carhistory.sources.slugs import slug_from_name

    assert slug_from_name(name) == slug


def test_a_long_chinese_name_is_cut_between_syllables():
    from carhistory.sources.slugs import SLUG_MAX_LENGTH, slug_from_name

    name = "北京朝阳汽车修理有限公司第二分公司"
    slug = slug_from_name(name)
    assert len(slug) <= SLUG_MAX_LENGTH
    # A whole number of syllables: the rest of the full spelling starts at a separator.
    from pypinyin import lazy_pinyin

    full = "-".join(lazy_pinyin(name))
    assert full.startswith(slug + "-")
