"""Reads of the outbox."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from django.db import connection
from django.db.models import Count, QuerySet

from config import sql
from config.problems import NotFound
from notifications.models import Notification
from registrations.models import Registration
from sessions.models import AgendaVersion, Event
from sessions.selectors import agenda_latest_version


def notification_list(*, event, status: str | None = None, kind: str | None = None) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(event=event)
    if status:
        notifications = notifications.filter(status=status)
    if kind:
        notifications = notifications.filter(kind=kind)
    return notifications.order_by("-created_at", "-id")


def notification_get(*, event, notification_id: int) -> Notification:
    notification = Notification.objects.filter(event=event, pk=notification_id).first()
    if notification is None:
        raise NotFound(f"No notification {notification_id} on this event.")
    return notification


def notification_counts(*, event) -> dict[str, int]:
    """Rows per status, every status present (zeros included)."""
    counts = dict.fromkeys(Notification.Status.values, 0)
    for row in Notification.objects.filter(event=event).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


@lru_cache(maxsize=4)
def _registration_with_agenda_sql(vendor: str):
    registration, event, version = Registration._meta, Event._meta, AgendaVersion._meta
    parts = [
        (alias, meta.model, list(meta.concrete_fields))
        for alias, meta in (("r", registration), ("e", event), ("a", version))
    ]
    select = ", ".join(
        f"{alias}.{sql.columns([field])}" for alias, _model, fields in parts for field in fields
    )
    version_event, number = sql.column(version, "event"), sql.column(version, "number")
    statement = (
        f"SELECT {select} FROM {sql.table(registration)} r "  # noqa: S608
        f"JOIN {sql.table(event)} e ON e.{sql.column(event, 'pk')} = r.{sql.column(registration, 'event')} "
        # The latest published version, as agenda_latest_version picks it (SQLite has no LATERAL).
        f"LEFT JOIN {sql.table(version)} a ON a.{sql.column(version, 'pk')} = ("
        f"SELECT v.{sql.column(version, 'pk')} FROM {sql.table(version)} v "
        f"WHERE v.{version_event} = e.{sql.column(event, 'pk')} ORDER BY v.{number} DESC LIMIT 1) "
        f"WHERE r.{sql.column(registration, 'pk')} = %s"
    )
    return statement, [(sql.loader(model, fields), len(fields)) for _alias, model, fields in parts]


def registration_with_agenda(*, registration_id: int) -> tuple[Registration, AgendaVersion | None] | None:
    """The registration (its event loaded with it) and the event's latest agenda version, in one
    query: what a message about a registration is rendered from. None if it is gone."""
    statement, loaders = _registration_with_agenda_sql(connection.vendor)
    with sql.prepared_cursor() as cursor:
        cursor.execute(statement, [registration_id])
        row = cursor.fetchone()
    if row is None:
        return None
    loaded, start = [], 0
    for load, count in loaders:
        values = row[start : start + count]
        loaded.append(None if values[0] is None else load(values))  # the first column is the pk
        start += count
    registration, event, version = loaded
    registration.event = event
    return registration, version


class MessageSubjects:
    """The rows a chunk of messages is rendered from, read for the chunk instead of per message.

    `preload` reads the chunk's registrations with their events in one query and each event's
    latest agenda version once. Anything not preloaded (a registration deleted meanwhile, say)
    is read when asked for, as a single message would read it. Agenda versions are kept for the
    chunk: every message of an agenda update names the same two."""

    def __init__(self) -> None:
        self._registrations: dict[int, tuple[Registration, AgendaVersion | None]] = {}
        self._versions: dict[tuple, AgendaVersion | None] = {}

    def preload(self, notifications) -> None:
        ids = {n.subject_id for n in notifications if n.subject_type == "registration"}
        if len(ids) < 2:
            return  # one message: its own query is the cheaper one
        for registration in Registration.objects.filter(pk__in=ids).select_related("event"):
            self._registrations[registration.pk] = (
                registration,
                self.latest_version(event=registration.event),
            )

    def registration_with_agenda(self, *, registration_id: int):
        found = self._registrations.get(registration_id)
        return found if found is not None else registration_with_agenda(registration_id=registration_id)

    def latest_version(self, *, event: Event) -> AgendaVersion | None:
        return self._kept(("latest", event.pk), lambda: agenda_latest_version(event=event))

    def version(self, *, event: Event, number: int) -> AgendaVersion | None:
        return self._kept(
            ("number", event.pk, number), lambda: event.agenda_versions.filter(number=number).first()
        )

    def version_before(self, *, event: Event, number: int) -> AgendaVersion | None:
        return self._kept(
            ("before", event.pk, number),
            lambda: event.agenda_versions.filter(number__lt=number).order_by("-number").first(),
        )

    def _kept(self, key: tuple, read: Callable[[], AgendaVersion | None]) -> AgendaVersion | None:
        if key not in self._versions:
            self._versions[key] = read()
        return self._versions[key]
