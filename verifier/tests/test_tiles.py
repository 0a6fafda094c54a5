"""C2SP tlog-tiles paths and tile contents (height 8)."""

import pytest
from carhistory_verifier.tiles import (
    TILE_WIDTH,
    TileAddress,
    parse_tile_path,
    tile_path,
    tile_subtree_level,
    tile_subtrees,
    tile_width_for_size,
)
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("path", "address"),
    [
        ("0/000", TileAddress(0, 0)),
        ("0/x001/x234/067", TileAddress(0, 1234067)),
        ("2/001.p/17", TileAddress(2, 1, 17)),
        ("63/999.p/255", TileAddress(63, 999, 255)),
        ("1/x999/999", TileAddress(1, 999999)),
    ],
)
def test_tile_paths_parse_and_print_canonically(path, address):
    assert parse_tile_path(path) == address
    assert tile_path(address) == path


@given(
    level=st.integers(0, 63),
    index=st.integers(0, 10**12),
    width=st.integers(1, TILE_WIDTH),
)
def test_every_address_round_trips(level, index, width):
    address = TileAddress(level, index, width)
    assert parse_tile_path(tile_path(address)) == address


@pytest.mark.parametrize(
    "path",
    [
        "",
        "0",
        "0/",
        "00/000",  # leading zero in the level
        "64/000",  # level above 63
        "-1/000",
        "0/1",  # index group not three digits
        "0/x001",  # last group has an x
        "0/001/002",  # inner group without an x
        "0/x000/001",  # a second spelling of index 1
        "0/x1234/000",
        "0/000.p/0",
        "0/000.p/256",  # a full tile has no .p suffix
        "0/000.p/05",
        "0/000.p/",
        "0/000.p/1/2",
        "0/00a",
        "0/٠٠١",  # non-ASCII digits
        "0//000",
        "0/000/",
    ],
)
def test_malformed_tile_paths_are_refused_with_a_reason(path):
    with pytest.raises(ValueError, match="tile"):
        parse_tile_path(path)


def test_tile_levels_are_eight_tree_levels_apart():
    assert [tile_subtree_level(level) for level in range(3)] == [0, 8, 16]
    assert tile_subtrees(TileAddress(1, 2, 3)) == [(8, 512), (8, 513), (8, 514)]


def test_tile_widths_follow_the_spec_example_of_a_tree_of_70000():
    # 273 full level-0 tiles, a partial of 112; one full level-1 tile and a partial of 17;
    # a partial level-2 tile of 1.
    assert tile_width_for_size(0, 272, 70000) == TILE_WIDTH
    assert tile_width_for_size(0, 273, 70000) == 112
    assert tile_width_for_size(0, 274, 70000) == 0
    assert tile_width_for_size(1, 0, 70000) == TILE_WIDTH
    assert tile_width_for_size(1, 1, 70000) == 17
    assert tile_width_for_size(2, 0, 70000) == 1
    assert tile_width_for_size(1, 0, 256) == 1


def test_impossible_addresses_are_refused():
    for arguments in ((64, 0), (0, -1), (0, 0, 0), (0, 0, 257)):
        with pytest.raises(ValueError):
            TileAddress(*arguments)
