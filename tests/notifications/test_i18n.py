"""Six languages for every message kind: templates exist, every string they use is translated,
the compiled .mo files match their .po sources, and rendering in a language really changes it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.conf import settings
from django.template.loader import get_template
from django.utils.translation.template import templatize

from notifications.management.commands.compile_translations import catalog_paths, compile_po, problems
from notifications.messages import LANGUAGES, render_parts, template_names
from notifications.models import Notification

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "notifications" / "templates" / "notifications"
PYTHON_SOURCES = [ROOT / "notifications" / "messages.py", ROOT / "notifications" / "formatting.py"]
TRANSLATED = [code for code in LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)s")
# Words that are genuinely spelt the same in the translation.
SAME_WORD = {("fr", "Participant")}


def used_msgids() -> set[str]:
    """Every string the notification templates and modules mark for translation, extracted
    the way `makemessages` does (Django's templatize, then a Python gettext extractor)."""
    found: set[str] = set()
    keywords = {"_": None, "gettext": None, "gettext_lazy": None, "pgettext": ((1, "c"), 2)}
    for path in sorted(TEMPLATES.rglob("*.*")):
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for _line, _func, message, _comments in extract_python(io.BytesIO(code.encode()), keywords, [], {}):
            found.add(message if isinstance(message, str) else message[0])
    for path in PYTHON_SOURCES:
        with path.open("rb") as handle:
            for _line, _func, message, _comments in extract_python(handle, keywords, [], {}):
                found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


def catalog(language: str):
    with (ROOT / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as handle:
        return read_po(handle)


def test_languages_are_the_six_un_languages():
    assert sorted(LANGUAGES) == sorted(["en", "fr", "es", "ar", "zh", "ru"])


@pytest.mark.parametrize("kind", Notification.Kind.values)
def test_every_kind_has_subject_text_and_html_templates(kind):
    for name in template_names(kind):
        assert get_template(name) is not None


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_a_catalog(language):
    assert (ROOT / "locale" / language / "LC_MESSAGES" / "django.po").is_file()
    assert (ROOT / "locale" / language / "LC_MESSAGES" / "django.mo").is_file()


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_used_string_is_translated_with_the_same_placeholders(language):
    messages = {m.id: m for m in catalog(language) if m.id}
    missing = sorted(m for m in used_msgids() if m not in messages or not messages[m].string)
    fuzzy = sorted(m.id for m in messages.values() if m.fuzzy)

    assert missing == []
    assert fuzzy == []
    for msgid, message in messages.items():
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(msgid)), msgid
        if (language, msgid) not in SAME_WORD:
            assert message.string != msgid, f"{language}: {msgid!r} left in English"


def test_extraction_finds_the_strings_of_every_kind():
    # Guards the test above against an extractor that silently finds nothing.
    msgids = used_msgids()
    assert "Your registration is confirmed: %(event_title)s" in msgids
    assert "Your session at %(event_title)s: %(session_title)s" in msgids
    assert "%(when)s your time (%(city)s)" in msgids
    assert len(msgids) > 60


def test_compiled_catalogs_match_their_sources():
    assert problems() == []
    for po_path in catalog_paths():
        assert po_path.with_suffix(".mo").read_bytes() == compile_po(po_path)


def test_check_notices_a_po_edited_without_recompiling(tmp_path, settings):
    locale = tmp_path / "locale" / "fr" / "LC_MESSAGES"
    locale.mkdir(parents=True)
    source = ROOT / "locale" / "fr" / "LC_MESSAGES"
    (locale / "django.mo").write_bytes((source / "django.mo").read_bytes())
    edited = (
        (source / "django.po").read_text(encoding="utf-8").replace('msgstr "Quand"', 'msgstr "Quand donc"')
    )
    (locale / "django.po").write_text(edited, encoding="utf-8")
    settings.LOCALE_PATHS = [tmp_path / "locale"]

    assert problems() == [f"{locale / 'django.mo'} is out of date with its .po"]


KIND_CONTEXT = {
    "event_title": "Global Forum",
    "name": "Ana",
    "when": "Thursday 12 September",
    "venue": "UNHQ",
    "manage_url": "https://example.org/m/x",
    "status_label": "confirmed",
    "session_title": "Opening",
    "sessions": [{"title": "Opening", "when": "10:00", "room": "CR4", "role": "speaker", "speakers": "Ana"}],
    "changes": ["New time for Opening: 11:00."],
    "has_invite": True,
    "has_badge": True,
    "waitlist_position": 2,
}


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("kind", Notification.Kind.values)
def test_every_kind_renders_translated_in_every_language(kind, language):
    english = render_parts(kind, "en", KIND_CONTEXT)

    subject, text, html = render_parts(kind, language, KIND_CONTEXT)

    assert subject != english[0]
    assert text != english[1]
    assert "Global Forum" in subject
    # No English sentence of the English rendering survives in the translated one.
    english_sentences = {
        s for s in re.split(r"(?<=[.:])\s+", english[1]) if len(s) > 25 and "Global" not in s
    }
    assert [s for s in english_sentences if s in text] == []
    assert f'lang="{language}"' in html
