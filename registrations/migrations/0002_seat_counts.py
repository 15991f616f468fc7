"""Seat counts kept by triggers on the registration table (see registrations.models.SeatCount).

The triggers are SQL for PostgreSQL (production) and SQLite (the embedded stack); the names of
tables and columns are those of this migration's state, and stay so: a later rename must
replace the triggers in its own migration. On SQLite, Django changes a field or a constraint by
rebuilding the table, which drops its triggers: a later migration that alters the registration
table must create them again (see 0003).
"""

import django.db.models.deletion
from django.db import migrations, models

_POSTGRESQL = [
    """
    CREATE FUNCTION registrations_seat_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- The event row first, as the services lock it: two changes of one event's
        -- registrations can then never take the count rows in opposite orders (deadlock).
        IF TG_OP = 'DELETE' THEN
            PERFORM 1 FROM agenda_event WHERE id = OLD.event_id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM agenda_event WHERE id = NEW.event_id FOR NO KEY UPDATE;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE registrations_seatcount SET total = total - 1
            WHERE event_id = OLD.event_id AND attendance = OLD.attendance AND status = OLD.status;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO registrations_seatcount (event_id, attendance, status, total)
            VALUES (NEW.event_id, NEW.attendance, NEW.status, 1)
            ON CONFLICT (event_id, attendance, status)
            DO UPDATE SET total = registrations_seatcount.total + 1;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER registrations_seat_count_insert_delete
    AFTER INSERT OR DELETE ON registrations_registration
    FOR EACH ROW EXECUTE FUNCTION registrations_seat_count()
    """,
    """
    CREATE TRIGGER registrations_seat_count_update
    AFTER UPDATE OF event_id, attendance, status ON registrations_registration
    FOR EACH ROW WHEN (
        OLD.event_id IS DISTINCT FROM NEW.event_id
        OR OLD.attendance IS DISTINCT FROM NEW.attendance
        OR OLD.status IS DISTINCT FROM NEW.status
    )
    EXECUTE FUNCTION registrations_seat_count()
    """,
]
_POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS registrations_seat_count_update ON registrations_registration",
    "DROP TRIGGER IF EXISTS registrations_seat_count_insert_delete ON registrations_registration",
    "DROP FUNCTION IF EXISTS registrations_seat_count()",
]

_SQLITE_UP = """
    INSERT INTO registrations_seatcount (event_id, attendance, status, total)
    VALUES (NEW.event_id, NEW.attendance, NEW.status, 1)
    ON CONFLICT (event_id, attendance, status) DO UPDATE SET total = total + 1;
"""
_SQLITE_DOWN = """
    UPDATE registrations_seatcount SET total = total - 1
    WHERE event_id = OLD.event_id AND attendance = OLD.attendance AND status = OLD.status;
"""
_SQLITE = [
    f"""CREATE TRIGGER registrations_seat_count_insert AFTER INSERT ON registrations_registration
    BEGIN {_SQLITE_UP} END""",
    f"""CREATE TRIGGER registrations_seat_count_delete AFTER DELETE ON registrations_registration
    BEGIN {_SQLITE_DOWN} END""",
    f"""CREATE TRIGGER registrations_seat_count_update
    AFTER UPDATE OF event_id, attendance, status ON registrations_registration
    WHEN OLD.event_id IS NOT NEW.event_id OR OLD.attendance IS NOT NEW.attendance
        OR OLD.status IS NOT NEW.status
    BEGIN {_SQLITE_DOWN} {_SQLITE_UP} END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS registrations_seat_count_update",
    "DROP TRIGGER IF EXISTS registrations_seat_count_delete",
    "DROP TRIGGER IF EXISTS registrations_seat_count_insert",
]

_BACKFILL = """
    INSERT INTO registrations_seatcount (event_id, attendance, status, total)
    SELECT event_id, attendance, status, COUNT(*) FROM registrations_registration
    GROUP BY event_id, attendance, status
"""


def _statements(vendor: str, up: bool) -> list[str]:
    if vendor == "postgresql":
        return _POSTGRESQL if up else _POSTGRESQL_DROP
    if vendor == "sqlite":
        return _SQLITE if up else _SQLITE_DROP
    raise NotImplementedError(f"seat count triggers for {vendor}")


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in _statements(vendor, up=True):
        schema_editor.execute(statement)
    # In the same transaction as the triggers: no registration is written in between.
    schema_editor.execute(_BACKFILL)


def drop_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, up=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("agenda", "0001_initial"),
        ("registrations", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SeatCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("attendance", models.CharField(max_length=10)),
                ("status", models.CharField(max_length=20)),
                ("total", models.IntegerField(default=0)),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="agenda.event"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("event", "attendance", "status"), name="seat_count_unique")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
