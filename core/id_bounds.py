"""Date ranges of tables whose ids follow created_at, turned into id ranges; it imports no app.

An app declares such a table in its models.py (`id_bounded(Model)`, at import), which writes the table's
statements once from its own name; `first_id_at` and `ids_within` then answer only for declared models,
so no SQL is built where it runs and none from input. The admin's `IdBoundedDateRangeFilter`
(core.admin_toolkit) uses `ids_within`.
"""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Model, Q
from django.db.models.expressions import RawSQL

# created_at of these tables has a BRIN index: exact and tiny, but the planner cannot see that a date
# range is a contiguous stretch of ids, so a list "newest first, 100 rows" of an old date range walks the
# primary key back from today (millions of rows at capacity). These bounds turn the date range into an id
# range the primary key answers directly. The first id at or after a moment is found by binary search over
# the primary key: about 25 index probes whatever the table's size. Sound only where ids and created_at grow
# together (each declaring model says why), disagreeing by a transaction's length or a clock's drift at
# most, far inside the margin; the date condition itself stays, so the bounds only ever narrow the scan.
ID_BOUND_MARGIN = timedelta(days=1)
_FIRST_ID_AT = """(
    WITH RECURSIVE search(lo, hi) AS (
        SELECT min(id), max(id) + 1 FROM TABLE
        UNION ALL
        SELECT CASE WHEN probe.at < %s THEN (s.lo + s.hi) / 2 + 1 ELSE s.lo END,
               CASE WHEN probe.at < %s THEN s.hi ELSE (s.lo + s.hi) / 2 END
        FROM search s
        LEFT JOIN LATERAL (
            SELECT created_at AS at FROM TABLE WHERE id >= (s.lo + s.hi) / 2 ORDER BY id LIMIT 1
        ) probe ON true
        WHERE s.lo < s.hi
    )
    SELECT lo FROM search WHERE lo >= hi
)"""
# Per declared model: the subquery, and the statements reading one or two bounds in one round trip.
FIRST_ID_AT_SQL: dict[type[Model], str] = {}
BOUNDS_SQL: dict[tuple[type[Model], int], str] = {}


def id_bounded(*models: type[Model]) -> None:
    """Declare models whose ids follow created_at (called at import, from the model's own app)."""
    for model in models:
        if model._meta.pk.column != "id" or model._meta.get_field("created_at").column != "created_at":
            raise ValueError(f"{model.__name__} needs an id primary key and a created_at column")
        FIRST_ID_AT_SQL[model] = _FIRST_ID_AT.replace("TABLE", model._meta.db_table)
        for count in (1, 2):
            BOUNDS_SQL[model, count] = "SELECT " + ", ".join([FIRST_ID_AT_SQL[model]] * count)


def _declared(model: type[Model]) -> None:
    if model not in FIRST_ID_AT_SQL:
        raise ValueError(f"{model.__name__} ids do not follow created_at")


def first_id_at(model: type[Model], moment: datetime) -> RawSQL:
    """A subquery: the smallest id from which on every row is at or after `moment` (max id + 1 if none)."""
    _declared(model)
    return RawSQL(FIRST_ID_AT_SQL[model], [moment, moment])


def ids_within(model: type[Model], *, since: datetime | None, until: datetime | None) -> Q:
    """The id range that holds every row with since <= created_at < until (widened by the margin).

    Looked up once, as numbers: the list, its count, its totals and an export then filter by literal ids,
    which the planner estimates from the primary key's statistics (a subquery's value it cannot).
    """
    moments = {"pk__gte": since and since - ID_BOUND_MARGIN, "pk__lt": until and until + ID_BOUND_MARGIN}
    moments = {lookup: moment for lookup, moment in moments.items() if moment is not None}
    if not moments:
        return Q()
    _declared(model)
    with connection.cursor() as cursor:
        cursor.execute(
            BOUNDS_SQL[model, len(moments)],
            [param for moment in moments.values() for param in (moment, moment)],
        )
        ids = cursor.fetchone()
    # An empty table has no bound (and no rows to bound).
    return Q(**{lookup: pk for lookup, pk in zip(moments, ids, strict=True) if pk is not None})
