"""Print a new Ed25519 badge signing key line for the environment (never commit it)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from registrations.badge_tokens import new_key_line, public_key_line


class Command(BaseCommand):
    help = (
        "Print BADGE_SIGNING_KEY=<kid>:<base64 private key>. On rotation, give a new --kid and move the "
        "old key's public line (printed with --public-of) to BADGE_VERIFY_KEYS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kid", type=int, default=1, help="Key id written into every badge (0..2^31)")
        parser.add_argument(
            "--public-of",
            metavar="KID:PRIVATE",
            help="Print the BADGE_VERIFY_KEYS entry (kid:base64 public key) of an existing key line",
        )

    def handle(self, *args, kid: int, public_of: str | None, **options):
        if public_of:
            self.stdout.write(public_key_line(public_of))
            return
        if not 0 <= kid < 2**31:
            self.stderr.write("--kid must be between 0 and 2^31-1")
            raise SystemExit(2)
        self.stdout.write(f"BADGE_SIGNING_KEY={new_key_line(kid)}")
