"""Language choice and the localised words of the public agenda (the six UN languages).

Dates and times are formatted by Babel (CLDR data); the few words of our own, the titles of the
session kinds, are here so the agenda needs no compiled catalogue.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_skeleton, format_time
from django.utils.translation.trans_real import parse_accept_lang_header

from config.problems import ApplicationError

LANGUAGES = ("en", "fr", "es", "ar", "zh", "ru")
DEFAULT_LANGUAGE = "en"

KIND_TITLES: dict[str, dict[str, str]] = {
    "opening": {
        "en": "Opening",
        "fr": "Ouverture",
        "es": "Apertura",
        "ar": "الافتتاح",
        "zh": "开幕",
        "ru": "Открытие",
    },
    "keynote": {
        "en": "Keynote",
        "fr": "Discours liminaire",
        "es": "Discurso principal",
        "ar": "الكلمة الرئيسية",
        "zh": "主旨演讲",
        "ru": "Основной доклад",
    },
    "panel": {
        "en": "Panel",
        "fr": "Table ronde",
        "es": "Mesa redonda",
        "ar": "حلقة نقاش",
        "zh": "小组讨论",
        "ru": "Групповая дискуссия",
    },
    "dialogue": {
        "en": "Dialogue",
        "fr": "Dialogue",
        "es": "Diálogo",
        "ar": "حوار",
        "zh": "对话",
        "ru": "Диалог",
    },
    "break": {"en": "Break", "fr": "Pause", "es": "Pausa", "ar": "استراحة", "zh": "休息", "ru": "Перерыв"},
    "closing": {
        "en": "Closing",
        "fr": "Clôture",
        "es": "Clausura",
        "ar": "الاختتام",
        "zh": "闭幕",
        "ru": "Закрытие",
    },
    "other": {"en": "Other", "fr": "Autre", "es": "Otro", "ar": "أخرى", "zh": "其他", "ru": "Другое"},
}


class InvalidLanguage(ApplicationError):
    code = "invalid_language"
    title = "Unsupported language"


def negotiate_language(*, lang: str | None, accept_language: str | None) -> str:
    """`?lang=` if given (must be one of the six), else the best Accept-Language match, else en."""
    if lang:
        code = lang.strip().lower().split("-")[0]
        if code not in LANGUAGES:
            raise InvalidLanguage(
                f"lang must be one of {', '.join(LANGUAGES)}.", errors={"lang": ["Unsupported."]}
            )
        return code
    for tag, _quality in parse_accept_lang_header(accept_language or "")[:10]:
        code = tag.lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def kind_title(kind: str, language: str) -> str:
    titles = KIND_TITLES.get(kind, KIND_TITLES["other"])
    return titles.get(language, titles[DEFAULT_LANGUAGE])


def date_label(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """e.g. "Fri, Sep 13" (en), "ven. 13 sept." (fr) — the day as the viewer sees it."""
    return format_skeleton("MMMEd", moment, tzinfo=zone, locale=language)


def time_label(moment: datetime, zone: ZoneInfo, language: str) -> str:
    return format_time(moment, format="short", tzinfo=zone, locale=language)


def datetime_label(moment: datetime, zone: ZoneInfo, language: str) -> str:
    return format_datetime(moment, format="medium", tzinfo=zone, locale=language)
