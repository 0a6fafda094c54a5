"""C2SP tlog-tiles entry bundles: uint16 length-prefixed entries."""

import pytest
from carhistory_verifier.tiles import decode_entry_bundle, encode_entry_bundle
from hypothesis import given
from hypothesis import strategies as st


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_a_bundle_decodes_to_the_entries_it_was_made_of(entries):
    assert decode_entry_bundle(encode_entry_bundle(entries)) == entries


def test_the_length_prefix_is_big_endian():
    assert encode_entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"


def test_an_entry_longer_than_a_uint16_cannot_be_bundled():
    with pytest.raises(ValueError, match="at most 65535"):
        encode_entry_bundle([b"x" * 65_536])


@pytest.mark.parametrize("bundle", [b"\x00", b"\x00\x05abc", b"\x00\x01a\x00"])
def test_a_truncated_bundle_is_refused(bundle):
    with pytest.raises(ValueError, match="ends inside"):
        decode_entry_bundle(bundle)
