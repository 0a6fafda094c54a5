"""Events moderation announces, so that other apps react without moderation reaching into them.

`dispute_changed(sender=Dispute, dispute=…)` is sent once a dispute is accepted for review,
corrected or rejected and that change is committed. A dispute changes what a report shows
without adding to the log, so the vehicles app listens and stops serving cached copies of that
car's report.
"""

from django.dispatch import Signal

dispute_changed = Signal()
