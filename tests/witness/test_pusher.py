"""The log pushes each checkpoint to its witnesses (C2SP tlog-witness) and serves what they
cosign: against real `carhistory-witness serve` processes over HTTP, on PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from carhistory_verifier import note
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from carhistory.vehicles.cache import evidence_json
from ledger import services, witnessing
from ledger.models import Checkpoint, Cosignature, Cosigner
from tests.ledger.factories import EntryFactory
from tests.witness.processes import WitnessProcess, free_port


def register(process: WitnessProcess) -> Cosigner:
    return witnessing.add_witness(verifier_key=process.verifier.key_string(), url=process.url)[0]


def grow(count: int) -> None:
    """Grow the log by `count` leaves as a source's submission would: `count - 1` entries (at
    least one) and the batch's vin_index entry (SPEC §7). The push runs when the sequencer's
    transaction commits (Celery tasks run inline in the suite)."""
    services.enqueue_entries(entries=EntryFactory.build_batch(max(1, count - 1)))
    services.integrate_pending(wait=True)


def served(client) -> str:
    return client.get("/log/checkpoint").content.decode()


@pytest.mark.django_db(transaction=True)
def test_every_new_checkpoint_is_cosigned_by_every_witness(
    client, witness, second_witness, log_key
):
    register(witness)
    register(second_witness)
    grow(5)
    grow(3)
    note_text = served(client)
    assert note.verify_checkpoint(note_text, log_key.verifier()).size == 8
    for process in (witness, second_witness):
        assert abs(note.verify_cosignature(note_text, process.verifier) - time.time()) < 60
    assert set(Cosigner.objects.values_list("cosigned_size", flat=True)) == {8}
    # The witness checked a consistency proof from 5 to 8: both checkpoints were cosigned.
    assert Cosignature.objects.filter(checkpoint__tree_size=5).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_evidence_bundle_carries_the_cosignatures_it_has_now(witness, tmp_path, log_key):
    vin = EntryFactory().get("vin")
    late = WitnessProcess(tmp_path / "late", "late.example/w", log_key.verifier(), free_port())
    register(witness)
    registered_late = register(late)
    grow(2)
    bundle = json.loads(evidence_json(vin=vin))
    assert note.verify_cosignature(bundle["checkpoint"], witness.verifier) > 0
    assert "late.example/w" not in bundle["checkpoint"]
    # A cosignature that arrives later is in the next bundle, though the log has not grown.
    late.start()
    try:
        later = timezone.now() + timedelta(seconds=5)
        witnessing.push_to_witness(witness_id=registered_late.pk, now=later)
    finally:
        late.stop()
    bundle = json.loads(evidence_json(vin=vin))
    assert note.verify_cosignature(bundle["checkpoint"], late.verifier) > 0


@pytest.mark.django_db(transaction=True)
def test_a_conflict_restarts_from_the_size_the_witness_holds(witness):
    registered = register(witness)
    grow(4)
    # The log lost its record of the witness (a restore, a lost answer): it sends old 0 again.
    Cosigner.objects.filter(pk=registered.pk).update(cosigned_size=None, cosigned_at=None)
    grow(3)
    registered.refresh_from_db()
    assert (registered.cosigned_size, registered.failures) == (7, 0)
    assert Cosignature.objects.filter(checkpoint__tree_size=7, cosigner=registered).exists()


@pytest.mark.django_db(transaction=True)
def test_a_witness_that_is_down_backs_off_and_never_blocks_the_sequencer(tmp_path, log_key):
    down = WitnessProcess(tmp_path / "down", "down.example/w", log_key.verifier(), free_port())
    registered = register(down)
    grow(3)
    assert Checkpoint.objects.filter(tree_size=3).exists()
    registered.refresh_from_db()
    assert registered.failures == 1
    assert registered.retry_at > timezone.now()
    assert "cannot reach" in registered.last_error
    grow(1)
    registered.refresh_from_db()
    assert registered.failures == 1, "pushed again while backing off"
    down.start()
    try:
        later = timezone.now() + timedelta(seconds=5)
        result = witnessing.push_to_witness(witness_id=registered.pk, now=later)
    finally:
        down.stop()
    # grow(3) and grow(1): three leaves, then one entry and its vin_index entry.
    assert (result.outcome, result.size) == (witnessing.Outcome.COSIGNED, 5)
    registered.refresh_from_db()
    assert (registered.failures, registered.retry_at, registered.last_error) == (0, None, "")


@pytest.mark.django_db(transaction=True)
def test_failures_double_the_wait(tmp_path, log_key):
    down = WitnessProcess(tmp_path / "down", "down.example/w", log_key.verifier(), free_port())
    registered = register(down)
    grow(1)
    now = timezone.now()
    waits = []
    for step in range(4):
        now += timedelta(seconds=1000)
        witnessing.push_to_witness(witness_id=registered.pk, now=now)
        registered.refresh_from_db()
        waits.append((registered.retry_at - now).total_seconds())
        assert registered.failures == step + 2
    assert waits == [2.0, 4.0, 8.0, 16.0]


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_checkpoint_is_cosigned_again_when_its_cosignature_ages(client, witness):
    registered = register(witness)
    grow(2)
    first = note.verify_cosignature(served(client), witness.verifier)
    result = witnessing.push_to_witness(witness_id=registered.pk)
    assert result.outcome == witnessing.Outcome.UP_TO_DATE
    time.sleep(1.1)
    later = timezone.now() + timedelta(seconds=61)
    result = witnessing.push_to_witness(witness_id=registered.pk, now=later)
    assert result.outcome == witnessing.Outcome.COSIGNED
    assert note.verify_cosignature(served(client), witness.verifier) > first
    assert served(client).count("registry.example/w1") == 1


@pytest.mark.django_db(transaction=True)
def test_healthz_shows_each_witness_last_cosigned_size_and_age(client, witness):
    register(witness)
    grow(2)
    (status,) = client.get("/healthz").json()["witnesses"]
    assert status["name"] == "registry.example/w1"
    assert status["cosigned_size"] == 2
    assert 0 <= status["cosigned_age_seconds"] < 60


@pytest.mark.django_db
def test_no_witness_means_nothing_to_push(client):
    grow(2)
    assert witnessing.active_witness_ids() == []
    assert client.get("/healthz").json()["witnesses"] == []


@pytest.mark.django_db
def test_add_witness_registers_and_updates_the_url(capsys):
    key = note.CosignatureSigner.generate("registry.example/w9").verifier().key_string()
    call_command("add_witness", key, "--url", "http://127.0.0.1:1")
    assert "Registered witness registry.example/w9" in capsys.readouterr().out
    call_command("add_witness", key, "--url", "https://witness.example")
    assert Cosigner.objects.get().url == "https://witness.example"


@pytest.mark.django_db
def test_add_witness_keeps_its_chinese_title_when_the_url_changes():
    key = note.CosignatureSigner.generate("registry.example/w9").verifier().key_string()
    call_command(
        "add_witness",
        key,
        "--url",
        "http://127.0.0.1:1",
        "--title",
        "Shanghai Vehicle Registry",
        "--title-zh-hans",
        "上海市机动车登记所",
    )
    call_command("add_witness", key, "--url", "https://witness.example")
    witness = Cosigner.objects.get()
    assert witness.display_name_in("zh-hans") == "上海市机动车登记所"
    assert witness.display_name_in("en") == "Shanghai Vehicle Registry"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "url", "message"),
    [
        ("not a key", "http://w.example", "verifier key"),
        (None, "ftp://w.example", "url"),
    ],
)
def test_add_witness_refuses_bad_input(key, url, message):
    key = key or note.CosignatureSigner.generate("w.example").verifier().key_string()
    with pytest.raises(CommandError, match=message):
        call_command("add_witness", key, "--url", url)


@pytest.mark.django_db
def test_a_log_key_is_not_a_witness_key(log_key):
    with pytest.raises(CommandError, match="key type"):
        call_command("add_witness", log_key.verifier().key_string(), "--url", "http://w.example")


@pytest.mark.django_db
def test_the_admin_form_checks_the_key_name_and_url():
    key = note.CosignatureSigner.generate("registry.example/w3").verifier().key_string()
    with pytest.raises(ValidationError) as wrong_name:
        Cosigner(name="someone.else", verifier_key=key, url="http://w.example").full_clean()
    assert "name" in wrong_name.value.message_dict
    with pytest.raises(ValidationError) as no_url:
        Cosigner(name="registry.example/w3", verifier_key=key).full_clean()
    assert "url" in no_url.value.message_dict
    with pytest.raises(ValidationError) as bad_key:
        Cosigner(name="w", verifier_key="w+00000000+BA==", url="http://w.example").full_clean()
    assert "verifier_key" in bad_key.value.message_dict
    Cosigner(name="registry.example/w3", verifier_key=key, url="http://w.example").full_clean()


@pytest.mark.django_db(transaction=True)
def test_checkpoints_signed_before_a_queued_push_starts_queue_no_other(witness, monkeypatch):
    from ledger import tasks

    witness_id = register(witness).id
    queued, countdowns = [], []

    def queue(args, countdown):
        queued.append(args[0])
        countdowns.append(countdown)

    monkeypatch.setattr(tasks.push_to_witness, "apply_async", queue)
    grow(2)
    grow(3)
    grow(4)
    assert queued == [witness_id]  # three checkpoints, one push still to start
    # It starts an interval later, to carry the checkpoints of that interval.
    assert countdowns == [settings.WITNESS_PUSH_INTERVAL_SECONDS]
    assert tasks.push_to_witness(witness_id) == witnessing.Outcome.COSIGNED
    newest = Checkpoint.objects.order_by("-tree_size").first()
    assert Cosigner.objects.get(pk=witness_id).cosigned_size == newest.tree_size
    grow(2)  # after the push read the latest: a push of its own
    assert queued == [witness_id, witness_id]


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_whose_push_found_the_witness_busy_is_queued_again_by_the_holder(
    witness, monkeypatch
):
    import threading

    from django.db import connection

    from ledger import tasks

    witness_id = register(witness).id
    grow(2)
    queued, busy = [], []
    monkeypatch.setattr(
        tasks.push_to_witness, "apply_async", lambda args, countdown: queued.append(args[0])
    )
    pushed = witnessing._push_latest

    def another_checkpoint_meanwhile(cosigner, now):
        result = pushed(cosigner, now)
        if not busy:
            # Its own connection: a checkpoint commits while this push holds the row, and
            # its queued push starts at once and finds the row taken.
            def sequencer_and_its_push():
                try:
                    grow(3)
                    busy.append(tasks.push_to_witness(witness_id))
                finally:
                    connection.close()

            thread = threading.Thread(target=sequencer_and_its_push)
            thread.start()
            thread.join()
        return result

    monkeypatch.setattr(witnessing, "_push_latest", another_checkpoint_meanwhile)
    # Up to date when it read; the log grew while it held the row, and the push queued for
    # that checkpoint found the row taken. Done, the holder queues the next push (one
    # interval later) instead of pushing again at once.
    holder = witnessing.push_to_witness(witness_id=witness_id)
    assert holder.outcome == witnessing.Outcome.UP_TO_DATE
    assert busy == [witnessing.Outcome.BUSY] and queued == [witness_id, witness_id]
    newest = Checkpoint.objects.order_by("-tree_size").first()
    assert Cosigner.objects.get(pk=witness_id).cosigned_size < newest.tree_size
    assert tasks.push_to_witness(witness_id) == witnessing.Outcome.COSIGNED
    assert Cosigner.objects.get(pk=witness_id).cosigned_size == newest.tree_size
    assert queued == [witness_id, witness_id]  # nothing grew during that one


@pytest.mark.django_db(transaction=True)
def test_witnesses_pushed_a_batch_apart_cosign_one_checkpoint(witness, second_witness, monkeypatch):
    from ledger import tasks

    first, second = register(witness).id, register(second_witness).id
    queued = []
    monkeypatch.setattr(
        tasks.push_to_witness, "apply_async", lambda args, countdown: queued.append(args[0])
    )
    grow(2)
    assert tasks.push_to_witness(first) == witnessing.Outcome.COSIGNED
    round_one = Cosigner.objects.get(pk=first).cosigned_size
    grow(3)  # a batch between the two witnesses' pushes
    # The second witness cosigns the checkpoint the first was asked to, not the newer one: a
    # buyer asking for both cosignatures finds them on one checkpoint.
    assert tasks.push_to_witness(second) == witnessing.Outcome.COSIGNED
    assert Cosigner.objects.get(pk=second).cosigned_size == round_one
    assert Cosignature.objects.filter(checkpoint__tree_size=round_one).count() == 2
    # Both move on to the newest in the next round, whichever starts it.
    newest = Checkpoint.objects.order_by("-tree_size").first().tree_size
    assert tasks.push_to_witness(second) == witnessing.Outcome.COSIGNED
    assert tasks.push_to_witness(first) == witnessing.Outcome.COSIGNED
    assert set(Cosigner.objects.values_list("cosigned_size", flat=True)) == {newest}
    assert Cosignature.objects.filter(checkpoint__tree_size=newest).count() == 2
