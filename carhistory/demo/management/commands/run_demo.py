"""`manage.py run_demo 127.0.0.1:8000`: the development server with two witnesses beside it."""

import os
import signal
import sys
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from carhistory.demo import witnesses


class Command(BaseCommand):
    help = (
        "Start two demo witnesses (carhistory-witness serve, keys under var/witnesses/), "
        "register them, then run the development server; stop them when it stops."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("address", help="HOST:PORT for the development server")
        parser.add_argument(
            "--witness-ports",
            default="",
            help="two ports for the witnesses (default: the site's port + 1000 and + 1001)",
        )

    def handle(self, *args, address: str, witness_ports: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("DEBUG is off: run_demo is for development only.")
        host, _, port = address.rpartition(":")
        # runserver's autoreloader runs this command again in a child process (RUN_MAIN):
        # only the parent starts the witnesses, once.
        if os.environ.get("RUN_MAIN") == "true":
            call_command("runserver", address)
            return
        ports = [int(p) for p in witness_ports.split(",") if p] or [
            int(port) + 1000,
            int(port) + 1001,
        ]
        processes = witnesses.start_demo_witnesses(host=host or "127.0.0.1", ports=ports)
        for result in witnesses.push_to_all():
            self.stdout.write(f"Witness {result.witness}: {result.outcome} at size {result.size}")
        # A plain `kill` must stop the witnesses too, as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        stop = threading.Event()
        refresher = threading.Thread(target=self._refresh, args=(stop,), daemon=True)
        refresher.start()
        try:
            call_command("runserver", address)
        finally:
            stop.set()
            witnesses.stop(processes)

    def _refresh(self, stop: threading.Event) -> None:
        # No Celery beat in the embedded default: re-ask the witnesses now and then, so that an
        # idle demo keeps fresh cosignatures (and a failed push is retried).
        while not stop.wait(settings.WITNESS_REFRESH_SECONDS / 2):
            witnesses.push_to_all()
