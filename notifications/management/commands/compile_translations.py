"""Compile locale/*/LC_MESSAGES/django.po into .mo files with Babel (pure Python).

Django's `compilemessages` needs GNU gettext's `msgfmt`; Babel is already a dependency, so
this needs nothing installed. The .mo files are committed (a fresh checkout works without a
build step); `--check` fails when one is missing or differs from what its .po compiles to, or
when a translation is missing, so a .po edited without recompiling cannot go unnoticed.

Extracting new strings still uses Django (GNU gettext's xgettext, a developer tool). The
catalogs hold the strings of what Convene sends (notifications/); `--check` fails on any
untranslated entry, so extract other apps' strings only together with their translations:
    manage.py makemessages -l en -l fr -l es -l ar -l zh -l ru -e html,txt,py --no-obsolete \
        --no-location -i ".venv/*" -i "node_modules/*" -i "registrations/*" -i "sessions/*" \
        -i "config/*" -i "tests/*" -i "bench/*" -i "worker/*" -i "var/*"
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

SOURCE_LANGUAGE = "en"


def catalog_paths() -> list[Path]:
    paths = []
    for root in settings.LOCALE_PATHS:
        paths.extend(sorted(Path(root).glob("*/LC_MESSAGES/django.po")))
    return paths


def compile_po(po_path: Path) -> bytes:
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def untranslated(po_path: Path) -> list[str]:
    """msgids without a (non-fuzzy) translation; English is the source language."""
    if po_path.parent.parent.name == SOURCE_LANGUAGE:
        return []
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    return [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]


def problems() -> list[str]:
    found = []
    for po_path in catalog_paths():
        mo_path = po_path.with_suffix(".mo")
        compiled = compile_po(po_path)
        if not mo_path.exists():
            found.append(f"{mo_path} is missing")
        elif mo_path.read_bytes() != compiled:
            found.append(f"{mo_path} is out of date with its .po")
        for msgid in untranslated(po_path):
            found.append(f"{po_path}: no translation for {msgid!r}")
    return found


class Command(BaseCommand):
    help = "Compile the .po translation catalogs into .mo files with Babel (no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; fail if a .mo is stale or a string untranslated.",
        )

    def handle(self, *args, check: bool = False, **options):
        if check:
            found = problems()
            if found:
                raise CommandError("\n".join(found))
            self.stdout.write("translations: every catalog compiled and complete")
            return
        for po_path in catalog_paths():
            po_path.with_suffix(".mo").write_bytes(compile_po(po_path))
            self.stdout.write(f"compiled {po_path.with_suffix('.mo')}")
