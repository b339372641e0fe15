"""Checks of core.id_bounds: a moment's id bound splits rows exactly where their times do."""

from collections.abc import Callable
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


def assert_hourly_bounds_split(
    ids: list[int], start: datetime, first_id_at: Callable[[datetime], int | None]
) -> None:
    """`ids` were stamped one an hour from `start`: every bound, on an hour and between two, is exact."""
    for hour in (0, 1, 17, len(ids) - 1, len(ids)):
        for moment in (start + hour * HOUR, start + hour * HOUR - timedelta(minutes=30)):
            bound = first_id_at(moment)
            assert [pk for pk in ids if pk >= bound] == ids[hour:], (hour, moment)
            assert [pk for pk in ids if pk < bound] == ids[:hour], (hour, moment)
    assert first_id_at(start + len(ids) * HOUR) == ids[-1] + 1  # after every row: max id + 1
