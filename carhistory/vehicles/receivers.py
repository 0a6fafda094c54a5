"""What the vehicles app does when another app announces something (connected in apps.py)."""

from django.dispatch import receiver

from carhistory.moderation.signals import dispute_changed
from carhistory.vehicles.cache import forget_vehicle


@receiver(dispute_changed, dispatch_uid="vehicles.forget_disputed_vehicle")
def forget_disputed_vehicle(sender, *, dispute, **kwargs) -> None:
    # The report shows a car's open disputes, and it is cached by VIN and tree size, which a
    # dispute does not change: the car's cached reports must go.
    forget_vehicle(vin=dispute.vin)
