"""`manage.py load_demo`: demo sources with published API keys and a few cars' histories."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from carhistory.demo.data import DEMO_VINS, load_demo


class Command(BaseCommand):
    help = "Load demo sources, their API keys and five cars' histories. Safe to run twice."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--site",
            default="http://127.0.0.1:8000",
            help="the address the site will be served on, for the examples printed",
        )

    def handle(self, *args, **options) -> None:
        site = options["site"].rstrip("/")
        if not settings.DEBUG:
            # The demo registers a dealer signing key derived from a phrase published in the
            # code: on a production log anyone could sign as that dealer.
            raise CommandError(
                _("DEBUG is off: demo data, with its published keys, is for development only.")
            )
        summary = load_demo()
        self.stdout.write(
            f"Demo events: {summary.accepted} added, {summary.already_there} already in the log."
        )
        self.stdout.write("\nDemo API keys (they work only while DEBUG is on):")
        for source in summary.sources:
            self.stdout.write(f"  {source.kind:<20} {source.slug:<26} {source.api_key}")
        self.stdout.write("\nDemo vehicles:")
        for vin, description in DEMO_VINS:
            self.stdout.write(f"  {vin}  {description}")
        self.stdout.write(
            "\nTry: curl -H 'Authorization: Bearer demo-repair-shop.local-trials-only' "
            "-H 'Content-Type: application/json' -d "
            f'\'{{"vin": "{DEMO_VINS[4][0]}", "type": "odometer", "occurred_at": "2024-03-01", '
            f'"odometer_km": 52000}}\' {site}/api/v1/events'
        )
        self.stdout.write(
            f"\nDemo logins at {site}/accounts/login/ (they work only while DEBUG is on):"
        )
        for login in summary.logins:
            self.stdout.write(f"  {login.username:<26} {login.password:<24} {login.opens}")
        self.stdout.write(f"\nThe site: {site}/")
