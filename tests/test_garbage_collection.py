"""carhistory.garbage_collection: the cyclic collector paused around a burst, and back after."""

import gc

import pytest

from carhistory import garbage_collection


def test_the_collector_is_off_in_the_block_and_on_after():
    assert gc.isenabled()
    with garbage_collection.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_on_after_an_error():
    with pytest.raises(ValueError), garbage_collection.paused():
        raise ValueError
    assert gc.isenabled()


def test_an_inner_pause_leaves_the_collector_to_the_outer_one():
    # Two threads of one gunicorn worker: the one that found it on turns it back on.
    with garbage_collection.paused():
        with garbage_collection.paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
