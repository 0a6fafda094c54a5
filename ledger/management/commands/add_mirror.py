"""Register a mirror by its cosignature verifier key and print its access token once."""

from django.core.management.base import BaseCommand, CommandError

from ledger import mirrors


class Command(BaseCommand):
    help = (
        "Register a mirror (`carhistory-mirror generate NAME` prints its keys) and print its "
        "access token once, on the last line. Only a hash of the token is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the mirror's name, as in its key")
        parser.add_argument(
            "--key", required=True, help="the mirror's verifier key line (the second line)"
        )

    def handle(self, *args, name: str, key: str, **options):
        try:
            registered = mirrors.register_mirror(name=name, verifier_key=key)
        except mirrors.MirrorRegistrationError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(
            f"Registered mirror {name!r}. Give it the token below (it is shown only once); it "
            "reads the entries with it and posts its cosignatures."
        )
        self.stdout.write(registered.token)
