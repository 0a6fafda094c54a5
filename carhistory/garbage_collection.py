"""Pausing Python's cyclic garbage collector around work that allocates in bursts.

A sequencer batch or a batch of a thousand submissions allocates hundreds of thousands of small
dicts, lists and tuples, none of them in a reference cycle. Each burst sets off the cyclic
collector many times, and its older generations walk the whole heap (Django, the sequencer's
map cache) to free nothing: a tenth of a submission batch's CPU was spent there. Reference
counting frees those objects all the same; cycles made meanwhile wait for the next collection.
"""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, and turn it back on after if it was on.

    The switch is the process's: a thread that finds it already off leaves it to the one that
    turned it off, so it is never left off once the blocks that paused it have ended.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
