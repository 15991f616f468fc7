"""Names for the few statements written in SQL by hand (hot paths where the ORM's own cost shows).

Table and column names always come from the models' metadata, quoted for the connection, so a
renamed field or table cannot leave a stale name behind; every value stays a parameter.
"""

from __future__ import annotations

from django.db import connection


def table(meta) -> str:
    return connection.ops.quote_name(meta.db_table)


def column(meta, name: str) -> str:
    """The quoted column of field `name` ("pk" for the primary key)."""
    field = meta.pk if name == "pk" else meta.get_field(name)
    return connection.ops.quote_name(field.column)


def columns(fields) -> str:
    """Comma-separated quoted columns of model fields, in the order given."""
    return ", ".join(connection.ops.quote_name(field.column) for field in fields)
