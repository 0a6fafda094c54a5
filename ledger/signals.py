"""Events the ledger announces, so that work which follows them never runs inside the sequencer.

`log_grew(sender=None, tree_size=…)` is sent once a batch of the sequencer has committed: the
log holds `tree_size` entries and a checkpoint signed over them. `ledger.receivers` schedules
the witnesses on it; other apps may listen too.
"""

from django.dispatch import Signal

log_grew = Signal()
