"""C2SP signed notes, checkpoints and tlog-cosignature/v1."""

import base64

import pytest
from carhistory_verifier.merkle import EMPTY_ROOT
from carhistory_verifier.note import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    NoteError,
    Signer,
    Verifier,
    cosign_checkpoint,
    key_id,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_cosignature,
)

# The example key pair and note of the signed-note reference implementation
# (golang.org/x/mod/sumdb/note), reproduced across implementations.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_NOTE = (
    PETER_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

ROOT = bytes(range(32))


@pytest.fixture
def peter():
    return Verifier.from_key_string(PETER_VKEY)


def test_the_reference_note_verifies(peter):
    text, verified = open_note(PETER_NOTE, [peter])
    assert text == PETER_TEXT
    assert verified == [peter]


def test_signing_reproduces_the_reference_note_byte_for_byte():
    signer = Signer.from_key_string(PETER_SKEY)
    assert sign_note(PETER_TEXT, [signer]) == PETER_NOTE
    assert signer.key_string() == PETER_SKEY
    assert signer.verifier().key_string() == PETER_VKEY


def test_signatures_are_rfc_8032s_test_vector_2():
    # RFC 8032 §7.1, TEST 2: a one-byte message.
    seed = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    signer = Signer("rfc8032", seed)
    assert signer.verifier().public_key == bytes.fromhex(
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    )
    assert signer.sign(bytes.fromhex("72")) == bytes.fromhex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )


def test_key_id_is_the_first_four_bytes_of_the_named_key_hash(peter):
    assert key_id("PeterNeumann", 0x01, peter.public_key).hex() == "c74f20a3"
    assert peter.key_id.hex() == "c74f20a3"


def test_every_mangled_verifier_key_is_refused():
    # As the reference implementation tests: every proper substring and every one-character
    # change of the key string must fail to parse.
    for start in range(len(PETER_VKEY)):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) != (0, len(PETER_VKEY)):
                with pytest.raises(NoteError):
                    Verifier.from_key_string(PETER_VKEY[start:end])
    for position, character in enumerate(PETER_VKEY):
        mangled = PETER_VKEY[:position] + chr(ord(character) + 1) + PETER_VKEY[position + 1 :]
        with pytest.raises(NoteError):
            Verifier.from_key_string(mangled)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "space"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex"),
        ("PeterNeumann+c74f20a3+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key type"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10", "base64"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy", "bytes"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "non-empty"),
        ("PeterNeumann", "form"),
    ],
)
def test_malformed_verifier_keys_name_the_problem(key, reason):
    with pytest.raises(NoteError, match=reason):
        Verifier.from_key_string(key)


def test_a_private_key_string_without_its_prefix_is_refused():
    with pytest.raises(NoteError, match="PRIVATE"):
        Signer.from_key_string(PETER_SKEY.removeprefix("PRIVATE+KEY+"))


def test_a_tampered_note_text_is_refused(peter):
    for position in range(len(PETER_TEXT) - 1):
        tampered_text = PETER_TEXT[:position] + "#" + PETER_TEXT[position + 1 :]
        if tampered_text != PETER_TEXT:
            with pytest.raises(NoteError, match="does not verify"):
                open_note(PETER_NOTE.replace(PETER_TEXT, tampered_text), [peter])


def test_a_tampered_signature_is_refused(peter):
    signature_line = PETER_NOTE.rsplit("\n\n", 1)[1]
    blob = bytearray(base64.b64decode(signature_line.split(" ")[2]))
    blob[10] ^= 1
    tampered = PETER_TEXT + "\n— PeterNeumann " + base64.b64encode(bytes(blob)).decode() + "\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(tampered, [peter])


def test_another_key_with_the_same_name_does_not_verify_the_note():
    impostor = Signer.generate("PeterNeumann").verifier()
    with pytest.raises(NoteError, match="not signed by any known key"):
        open_note(PETER_NOTE, [impostor])


def test_unknown_signers_are_ignored_and_known_ones_reported(peter):
    peter_signer = Signer.from_key_string(PETER_SKEY)
    stranger = Signer.generate("stranger.example/key")
    note = sign_note(PETER_TEXT, [stranger, peter_signer])
    assert open_note(note, [peter]) == (PETER_TEXT, [peter])
    both = open_note(note, [peter, stranger.verifier()])[1]
    assert set(both) == {peter, stranger.verifier()}


def test_one_bad_signature_from_a_known_key_rejects_the_whole_note(peter):
    other = Signer.generate("other.example")
    forged_line = f"— other.example {base64.b64encode(other.key_id + bytes(64)).decode()}\n"
    with pytest.raises(NoteError, match=r"other\.example"):
        open_note(PETER_NOTE + forged_line, [peter, other.verifier()])


@pytest.mark.parametrize(
    "note",
    [
        PETER_TEXT,  # no signatures
        PETER_NOTE[:-1],  # signature line without its newline
        PETER_NOTE.replace("— ", "- "),  # hyphen instead of em dash
        PETER_NOTE.replace("PeterNeumann x08", "PeterNeumann  x08"),
        PETER_NOTE.replace("x08go", "x08g!"),
        PETER_NOTE.replace("If you", "If\tyou"),  # control character
        PETER_NOTE + "\n",  # trailing blank line
        PETER_TEXT + "\n— PeterNeumann AAAA\n",  # signature shorter than a key id
        PETER_TEXT + "\n" + "— a AAAAAAAA\n" * 101,  # too many signatures
        "text without newline",
        "\ud800\n\n— a AAAAAAAA\n",  # not UTF-8
    ],
)
def test_malformed_notes_are_refused(note, peter):
    with pytest.raises(NoteError):
        open_note(note, [peter])


def test_sign_note_refuses_text_without_a_final_newline():
    with pytest.raises(NoteError, match="newline"):
        sign_note("no newline", [Signer.generate("a.example")])


def test_checkpoint_body_is_origin_size_root_and_extensions():
    checkpoint = Checkpoint("carhistory.localhost/log", 20852163, ROOT, ("ext one",))
    assert checkpoint.body() == (
        "carhistory.localhost/log\n20852163\n" + base64.b64encode(ROOT).decode() + "\next one\n"
    )
    assert parse_checkpoint(checkpoint.body()) == checkpoint


def test_an_empty_tree_checkpoint_round_trips():
    checkpoint = Checkpoint("carhistory.localhost/log", 0, EMPTY_ROOT)
    assert parse_checkpoint(checkpoint.body()) == checkpoint


GOOD_ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"log\n007\n{GOOD_ROOT}\n", "leading zeros"),
        (f"log\n+7\n{GOOD_ROOT}\n", "leading zeros"),
        (f"log\n-7\n{GOOD_ROOT}\n", "leading zeros"),
        (f"log\n 7\n{GOOD_ROOT}\n", "leading zeros"),
        (f"log\n٧\n{GOOD_ROOT}\n", "leading zeros"),
        (f"log\n{2**64}\n{GOOD_ROOT}\n", "out of range"),
        ("log\n7\nnot base64!\n", "base64"),
        (f"log\n7\n{base64.b64encode(bytes(31)).decode()}\n", "32 bytes"),
        (f"log\n7\n{GOOD_ROOT}", "newline"),
        ("log\n7\n", "origin, a size and a root hash"),
        (f"\n7\n{GOOD_ROOT}\n", "origin"),
        (f"log\n7\n{GOOD_ROOT}\n\n", "extension"),
    ],
)
def test_malformed_checkpoints_are_refused_with_a_reason(text, reason):
    with pytest.raises(NoteError, match=reason):
        parse_checkpoint(text)


def test_a_checkpoint_verifies_with_the_verifier_key_string_alone():
    signer = Signer.generate("carhistory.localhost/log")
    checkpoint = Checkpoint("carhistory.localhost/log", 42, ROOT)
    note = sign_checkpoint(checkpoint, signer)
    verifier = Verifier.from_key_string(signer.verifier().key_string())
    assert verify_checkpoint(note, verifier) == checkpoint
    assert verify_checkpoint(note, verifier, origin="carhistory.localhost/log") == checkpoint


def test_a_checkpoint_from_another_log_is_refused_when_the_origin_is_pinned():
    signer = Signer.generate("other.example/log")
    note = sign_checkpoint(Checkpoint("other.example/log", 1, ROOT), signer)
    with pytest.raises(NoteError, match="origin"):
        verify_checkpoint(note, signer.verifier(), origin="carhistory.localhost/log")


def test_a_checkpoint_with_a_changed_size_or_root_is_refused():
    signer = Signer.generate("carhistory.localhost/log")
    note = sign_checkpoint(Checkpoint("carhistory.localhost/log", 42, ROOT), signer)
    with pytest.raises(NoteError):
        verify_checkpoint(note.replace("\n42\n", "\n43\n"), signer.verifier())
    with pytest.raises(NoteError):
        verify_checkpoint(
            note.replace(GOOD_ROOT, base64.b64encode(EMPTY_ROOT).decode()), signer.verifier()
        )


@pytest.fixture
def signed_checkpoint():
    log = Signer.generate("carhistory.localhost/log")
    return log, sign_checkpoint(Checkpoint("carhistory.localhost/log", 42, ROOT), log)


def test_a_cosignature_round_trips_and_returns_its_timestamp(signed_checkpoint):
    log, note = signed_checkpoint
    witness = CosignatureSigner.generate("registry.example/witness")
    line = cosign_checkpoint(note, witness, timestamp=1679315147)
    cosigned = note + line
    verifier = CosignatureVerifier.from_key_string(witness.verifier().key_string())
    assert verify_cosignature(cosigned, verifier) == 1679315147
    # The log's own signature still verifies; the cosignature line is an unknown key to it.
    assert verify_checkpoint(cosigned, log.verifier()).size == 42


def test_a_cosignature_signs_the_v1_message_and_carries_its_timestamp(signed_checkpoint):
    _, note = signed_checkpoint
    witness = CosignatureSigner.generate("registry.example/witness")
    line = cosign_checkpoint(note, witness, timestamp=1679315147)
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == witness.key_id
    assert int.from_bytes(blob[4:12], "big") == 1679315147
    body = note.rsplit("\n\n", 1)[0] + "\n"
    message = f"cosignature/v1\ntime 1679315147\n{body}".encode()
    assert witness.verifier().verify(message, blob[12:])


def test_the_spec_example_cosignature_has_the_same_layout():
    # From C2SP tlog-cosignature: key id, then the 8-byte timestamp, then the signature.
    example = (
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
        "qhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    blob = base64.b64decode(example)
    assert len(blob) == 4 + 8 + 64
    assert int.from_bytes(blob[4:12], "big") == 1679315147


def test_cosignature_key_ids_use_type_4():
    witness = CosignatureSigner.generate("registry.example/witness")
    public_key = witness.verifier().public_key
    assert witness.key_id == key_id("registry.example/witness", 0x04, public_key)
    assert base64.b64decode(witness.verifier().key_string().split("+", 2)[2])[0] == 0x04
    with pytest.raises(NoteError, match="key type"):
        Verifier.from_key_string(witness.verifier().key_string())


def test_a_tampered_cosignature_is_refused(signed_checkpoint):
    _, note = signed_checkpoint
    witness = CosignatureSigner.generate("registry.example/witness")
    line = cosign_checkpoint(note, witness, timestamp=1679315147)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1  # a different timestamp than was signed
    later = f"— registry.example/witness {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(note + later, witness.verifier())
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(note.replace("\n42\n", "\n43\n") + line, witness.verifier())


def test_a_missing_cosignature_is_reported(signed_checkpoint):
    _, note = signed_checkpoint
    witness = CosignatureSigner.generate("registry.example/witness")
    with pytest.raises(NoteError, match="no cosignature"):
        verify_cosignature(note, witness.verifier())


def test_a_witness_will_not_cosign_something_that_is_not_a_checkpoint():
    witness = CosignatureSigner.generate("registry.example/witness")
    note = sign_note("not\na checkpoint\n", [Signer.generate("x.example")])
    with pytest.raises(NoteError):
        cosign_checkpoint(note, witness, timestamp=1)
    checkpoint_note = sign_checkpoint(Checkpoint("a", 1, ROOT), Signer.generate("a"))
    with pytest.raises(NoteError, match="timestamp"):
        cosign_checkpoint(checkpoint_note, witness, timestamp=-1)


def test_private_keys_never_print_their_seed():
    signer = Signer.from_key_string(PETER_SKEY)
    assert "AYEKFALV" not in repr(signer)
