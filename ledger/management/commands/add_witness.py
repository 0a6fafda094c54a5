"""Register a witness the log pushes its checkpoints to (C2SP tlog-witness), or change its URL."""

from django.core.management.base import BaseCommand, CommandError

from ledger import witnessing


class Command(BaseCommand):
    help = (
        "Register a witness by its cosignature verifier key (the second line of "
        "`carhistory-witness generate`) and its submission URL; run again to change the URL."
    )

    def add_arguments(self, parser):
        parser.add_argument("verifier_key", help="the witness's verifier key line (type 0x04)")
        parser.add_argument(
            "--url", required=True, help="its submission prefix, e.g. https://witness.example"
        )
        parser.add_argument(
            "--title", default="", help="what buyers read, e.g. 'Shanghai Vehicle Registry'"
        )
        parser.add_argument(
            "--title-zh-hans",
            default="",
            help="what buyers read on Chinese pages, e.g. '上海市机动车登记所'",
        )

    def handle(self, *args, verifier_key: str, url: str, title: str, title_zh_hans: str, **options):
        for option, value in (("--title", title), ("--title-zh-hans", title_zh_hans)):
            if len(value) > 200:
                raise CommandError(f"{option}: at most 200 characters")
        try:
            witness, created = witnessing.add_witness(
                verifier_key=verifier_key, url=url, title=title, title_zh_hans=title_zh_hans
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        verb = "Registered" if created else "Updated"
        self.stdout.write(f"{verb} witness {witness.name} at {witness.url}")
