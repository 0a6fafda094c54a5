"""`manage.py create_app_role ROLE`: the least-privileged role the site runs as
(ledger/app_role.py).

Run it as the tables' owner, after `migrate`, and point the site's DATABASE_URL at ROLE.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from ledger.app_role import create_app_role


class Command(BaseCommand):
    help = "Create (or update) the non-owner, non-superuser role the site connects as."

    def add_arguments(self, parser):
        parser.add_argument("role", help="The role's name, e.g. carhistory_app.")
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help="Set the role's password from this environment variable (never an argument, "
            "which other users of the machine can read in the process list).",
        )

    def handle(self, *args, role: str, password_env: str | None, **options):
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"{password_env} is not set.")
        try:
            append_only = create_app_role(role=role, password=password)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{role}: rows only; append-only (SELECT, INSERT) on {', '.join(append_only)}."
        )
