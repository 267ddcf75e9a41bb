"""Multi-row statements through Django's cursor: many rows in one statement and one round trip."""

from collections.abc import Sequence
from typing import Any

# A statement's parameters: whatever the database driver adapts, psycopg2's Json among them,
# which django-stubs' type of `cursor.execute`'s parameters leaves out.
Parameters = list[Any]


def multi_row(sql: str, row: str, rows: Sequence[Sequence[object]]) -> tuple[str, Parameters]:
    """`sql` with its `{rows}` written out as one `row` template per row, and the parameters of
    every row in order, for `cursor.execute`.

        multi_row("INSERT INTO t (a, b) VALUES {rows}", "(%s, %s)", [(1, 2), (3, 4)])
        -> ("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s)", [1, 2, 3, 4])
    """
    return sql.format(rows=", ".join([row] * len(rows))), [
        value for values in rows for value in values
    ]


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """`INSERT INTO table (columns) VALUES {rows}`, the `sql` of `multi_row` for new rows."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {{rows}}"
