"""Names for the few statements written in SQL by hand (hot paths where the ORM's own cost shows).

Table and column names always come from the models' metadata, quoted for the connection, so a
renamed field or table cannot leave a stale name behind; every value stays a parameter.
"""

from __future__ import annotations

import re

from django.db import connection


def table(meta) -> str:
    return connection.ops.quote_name(meta.db_table)


def column(meta, name: str) -> str:
    """The quoted column of field `name` ("pk" for the primary key)."""
    field = meta.pk if name == "pk" else meta.get_field(name)
    return connection.ops.quote_name(field.column)


_PLAIN_CONSTANT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def literal(value: str | bool) -> str:
    """A constant of the code (a choice's value, a flag) written into a statement, where a
    parameter would cost psycopg an adaptation on every run. Plain words only: anything that
    could need escaping, or that comes from a request, stays a parameter."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if not isinstance(value, str) or not _PLAIN_CONSTANT.fullmatch(value):
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def columns(fields) -> str:
    """Comma-separated quoted columns of model fields, in the order given."""
    return ", ".join(connection.ops.quote_name(field.column) for field in fields)


def _converters(field) -> tuple[list, object]:
    # What the ORM's compiler applies to a selected column (SQLCompiler.get_converters): the
    # backend's (datetimes on SQLite, UUIDs…) and the field's own (JSON, custom fields).
    col = field.get_col(field.model._meta.db_table)
    return connection.ops.get_db_converters(col) + col.get_db_converters(connection), col


def loader(model, fields):
    """A function that turns a slice of a hand-written SELECT's row, one value per field of
    `fields` (concrete fields of `model`, in `_meta.concrete_fields` order), into an instance
    that is the same as the ORM would have loaded. Make one per statement and keep it."""
    names = [field.attname for field in fields]
    converting = [(i, *_converters(field)) for i, field in enumerate(fields)]
    converting = [(i, converters, col) for i, converters, col in converting if converters]
    alias = connection.alias

    def load(values):
        values = list(values)
        for i, converters, col in converting:
            value = values[i]
            for converter in converters:
                value = converter(value, col, connection)
            values[i] = value
        return model.from_db(alias, names, values)

    return load


def prepared_cursor():
    """A cursor for a hand-written statement that runs on every request of a hot path: on
    PostgreSQL the statement is prepared on the connection the first time it runs (see
    config.postgresql); elsewhere, the usual cursor. Parameters must then be plain values
    (psycopg adapts them), not SQL fragments."""
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()
