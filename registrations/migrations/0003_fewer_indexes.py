"""Drop the indexes that repeat others (every sign-up and scan wrote them all).

On SQLite, Django makes each of these changes by rebuilding the table, and a rebuilt
registration table has lost the seat-count triggers of 0002: they are created again (and the
counts recomputed) once the table is in its final shape, in either direction.
"""

import django.db.models.deletion
from django.db import migrations, models

_SQLITE_TRIGGERS_DROP = [
    "DROP TRIGGER IF EXISTS registrations_seat_count_update",
    "DROP TRIGGER IF EXISTS registrations_seat_count_delete",
    "DROP TRIGGER IF EXISTS registrations_seat_count_insert",
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
# As in 0002 (a migration keeps its own copy: 0002 must not change under it).
_SQLITE_TRIGGERS = [
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
_RECOUNT = [
    "DELETE FROM registrations_seatcount",
    """INSERT INTO registrations_seatcount (event_id, attendance, status, total)
    SELECT event_id, attendance, status, COUNT(*) FROM registrations_registration
    GROUP BY event_id, attendance, status""",
]


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL alters tables in place: its triggers stay
    for statement in [*_SQLITE_TRIGGERS_DROP, *_SQLITE_TRIGGERS, *_RECOUNT]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("agenda", "0001_initial"),
        ("registrations", "0002_seat_counts"),
    ]

    operations = [
        # Reversed last: after the reverse of the changes below has rebuilt the table again.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.AlterField(
            model_name="checkin",
            name="event",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="checkins",
                to="agenda.event",
            ),
        ),
        migrations.AlterField(
            model_name="registration",
            name="event",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="registrations",
                to="agenda.event",
            ),
        ),
        migrations.AlterField(
            model_name="registration",
            name="manage_token_hash",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="registration",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending_approval", "Pending approval"),
                    ("confirmed", "Confirmed"),
                    ("waitlisted", "Waitlisted"),
                    ("rejected", "Rejected"),
                    ("cancelled", "Cancelled"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="seatcount",
            name="event",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="agenda.event",
            ),
        ),
        migrations.AddConstraint(
            model_name="registration",
            constraint=models.UniqueConstraint(
                fields=("manage_token_hash",), name="registration_unique_manage_token"
            ),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
