"""What the log tells the rest of the site, without knowing who listens (STYLE.md: cross-app
writes by signals). Receivers must not hold up the sequencer: they are sent after the batch
commits, robustly, and should only enqueue work."""

from django.dispatch import Signal

# Sent after a batch of entries commits, with `tree_size`: the log's new size.
entries_integrated = Signal()
