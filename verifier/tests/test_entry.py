"""Entry bytes (SPEC §2): RFC 8785 canonical JSON, the signed statement, commitments, base64."""

import base64
import hashlib

import pytest
import rfc8785
from carhistory_verifier.entry import (
    STATEMENT_EXCLUDED_FIELDS,
    b64decode,
    b64encode,
    canonical_json,
    entry_bytes,
    new_nonce,
    new_salt,
    private_commitment,
    statement_bytes,
)
from hypothesis import given
from hypothesis import strategies as st

ENTRY = {
    "v": 1,
    "type": "service",
    "vin": "LSVAU2180N2183294",
    "occurred_at": "2024-05-03",
    "odometer_km": 45210,
    "facts": {"items": ["oil", "filter"]},
    "source": "sh-anting-vw-4s",
    "source_key": "sh-anting-vw-4s+1a2b3c4d+AXyz",
    "source_sig": "c2lnbmF0dXJl",
    "private_commitment": None,
    "submitted_at": "2024-05-03T09:12:44Z",
    "nonce": "AAAAAAAAAAAAAAAAAAAAAA==",
}


def test_canonical_json_follows_rfc_8785():
    # Keys sorted by UTF-16 code units (so U+20AC before U+1F600, a surrogate pair), no
    # whitespace, ECMAScript number formatting, minimal escapes.
    value = {"b": [1e21, 1.5, -0.0, 100], "a": "é\u2028\n", "\u20ac": 1, "\U0001f600": 2}
    assert canonical_json(value) == (
        '{"a":"é\u2028\\n","b":[1e+21,1.5,0,100],"\u20ac":1,"\U0001f600":2}'.encode()
    )


def test_entry_bytes_do_not_depend_on_key_order():
    shuffled = dict(reversed(list(ENTRY.items())))
    assert entry_bytes(shuffled) == entry_bytes(ENTRY)


def test_statement_leaves_out_exactly_the_server_filled_fields():
    statement = statement_bytes(ENTRY)
    expected = {k: v for k, v in ENTRY.items() if k not in STATEMENT_EXCLUDED_FIELDS}
    assert statement == canonical_json(expected)
    for field in STATEMENT_EXCLUDED_FIELDS:
        assert f'"{field}"'.encode() not in statement
    # What the source said is covered; what the server adds later is not.
    assert statement_bytes({**ENTRY, "nonce": "other"}) == statement
    assert statement_bytes({**ENTRY, "odometer_km": 4521}) != statement


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53 + 1, {1: "x"}, b"x", "\ud800"])
def test_values_json_cannot_carry_exactly_are_refused(value):
    with pytest.raises(ValueError):
        canonical_json({"facts": value})


def test_private_commitment_is_salted_sha256_of_canonical_private_details():
    salt = bytes(range(32))
    private = {"invoice": ["oil 40 CNY"], "customer": "张三"}
    expected = hashlib.sha256(salt + canonical_json(private)).digest()
    assert private_commitment(salt=salt, private=private) == base64.b64encode(expected).decode()
    assert private_commitment(salt=new_salt(), private=private) != private_commitment(
        salt=salt, private=private
    )


def test_private_commitment_refuses_a_short_salt():
    with pytest.raises(ValueError, match="32 bytes"):
        private_commitment(salt=b"short", private={})


def test_salts_and_nonces_are_fresh_and_the_right_size():
    assert len(new_salt()) == 32
    assert len(b64decode(new_nonce())) == 16
    assert len({new_nonce() for _ in range(100)}) == 100


@given(st.binary(max_size=100))
def test_base64_round_trips(data):
    assert b64decode(b64encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "AAA",  # missing padding
        "AA==AA==",  # padding in the middle
        "AAB=",  # unused bits set: a second spelling of the same bytes
        "AA-_",  # URL-safe alphabet
        "AA A",  # whitespace
        "AAÄA",  # not ASCII
    ],
)
def test_base64_decoding_is_strict(text):
    with pytest.raises(ValueError):
        b64decode(text)


def test_base64_decoding_refuses_non_strings():
    with pytest.raises(ValueError):
        b64decode(None)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


def _rfc8785_or_error(value):
    try:
        return rfc8785.dumps(value)
    except ValueError:
        return ValueError


def _ours_or_error(value):
    try:
        return canonical_json(value)
    except ValueError:
        return ValueError


@given(JSON_VALUES)
def test_canonical_json_writes_exactly_what_rfc8785_writes(value):
    # The fast path (the standard library's encoder) must never give other bytes, nor accept
    # what rfc8785 refuses: these bytes are hashed into the log and signed by sources.
    assert _ours_or_error(value) == _rfc8785_or_error(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # code-point order and UTF-16 order disagree
        {"a": '\x00\x01\x1f\x7f\b\f\n\r\t"\\/\u2028'},
        {"n": [2**53 - 1, -(2**53) + 1, 0, -0, True, False, None]},
        {"text": "张三 \U0001f697"},
        {"facts": {}, "items": []},
    ],
)
def test_canonical_json_agrees_with_rfc8785_on_the_edges(value):
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), {"k": "\udfff"}, {"k": ("tuple",)}])
def test_canonical_json_edges_outside_the_fast_path(value):
    assert _ours_or_error(value) == _rfc8785_or_error(value)
