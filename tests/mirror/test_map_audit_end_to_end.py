"""The audit of the VIN index (SPEC §7) end to end: an insider changes the stored map behind
the sequencer's back, the real sequencer then commits a wrong root in its next `vin_index`
entry and signs the checkpoint, and both the mirror (a separate process over HTTP) and
`manage.py verify_ledger` name that entry."""

import pytest
from carhistory_verifier import note
from django.core.management import CommandError, call_command

from ledger import selectors, services
from ledger.models import Checkpoint, Cosignature, Entry, VinKey
from tests.ledger.factories import EntryFactory
from tests.ledger.test_verify_ledger import tamper
from tests.mirror.conftest import stored_entries
from tests.mirror.test_mirror_sync import served_checkpoint

ACCIDENT_VIN = "LSVAU2180N2183294"
OTHER_VIN = "WVWZZZ1JZXW000001"


def integrate(entries: list[dict]) -> None:
    services.enqueue_entries(entries=entries)
    services.integrate_pending(wait=True)


def hide_the_first_entry_of(vin: str) -> None:
    """What an insider hiding a car's accident from buyers would do: drop the entry from the
    VIN's stored list, which the sequencer hashes into the map instead of rereading entries."""
    indexes = bytes(VinKey.objects.get(vin=vin).indexes)
    tamper("UPDATE ledger_vinkey SET indexes = %s WHERE vin = %s", [indexes[8:], vin])


def test_a_map_changed_behind_the_sequencers_back_is_named_by_the_mirror_and_the_audit(
    live_server, registered_mirror, mirror_files, run_mirror, log_key
):
    integrate(
        [EntryFactory(vin=ACCIDENT_VIN, type="accident"), EntryFactory(vin=OTHER_VIN)]
        + [EntryFactory(vin=ACCIDENT_VIN) for _ in range(3)]
    )
    honest = run_mirror()
    assert honest.returncode == 0, honest.stderr
    mirrored_size = selectors.tree_size()
    assert Cosignature.objects.filter(checkpoint_id=mirrored_size).count() == 1

    hide_the_first_entry_of(ACCIDENT_VIN)
    integrate([EntryFactory(vin=ACCIDENT_VIN)])
    size = selectors.tree_size()
    wrong_index = size - 1
    # The sequencer really did commit and sign it: the checkpoint ends with that entry.
    assert Entry.objects.get(index=wrong_index).type == "vin_index"
    assert Checkpoint.objects.filter(tree_size=size).exists()
    assert note.verify_checkpoint(served_checkpoint(live_server), log_key.verifier()).size == size

    result = run_mirror()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"wrong map at index {wrong_index}: the vin_index entry commits to root" in (
        result.stderr
    )
    assert "not cosigned" in result.stderr
    assert not Cosignature.objects.filter(checkpoint_id=size).exists()
    with pytest.raises(note.NoteError):
        note.verify_cosignature(served_checkpoint(live_server), registered_mirror.key.verifier())
    # The store keeps only what verified: the checkpoint it mirrored before.
    assert len(stored_entries(mirror_files["store"])) == mirrored_size

    with pytest.raises(CommandError, match=f"vin_index entry {wrong_index}: its root"):
        call_command("verify_ledger")
