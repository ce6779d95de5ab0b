"""Working time on the Russian production calendar: the deadline of every request.

The calendar is the ``holidays`` package's Russia (``holidays.RU``, pinned in requirements.txt): the
public holidays of the Labour Code (art. 112), the weekend holidays carried to the next working day,
and the days the Government moves by its yearly decree — the days off it adds
(«Day off (substituted from …)») and the Saturdays it makes working (``weekend_workdays``), which its
``is_working_day`` honours. For the years this portal runs, those decrees are:

- 2025: Постановление Правительства РФ от 04.10.2024 № 1335 (2 and 8 May, 13 June, 3 November,
  31 December off; Saturday 1 November working);
- 2026: Постановление Правительства РФ от 24.09.2025 № 1466 (9 January and 31 December off).

``tests/helpdesk/test_workdays.py`` pins those days, so that a package upgrade that lost one fails
the tests; a new year's decree arrives with a new release of the package (``pip install -U holidays``).

Working time is counted in whole days in Moscow time: a working day is 24 hours of the clock, a day
off none. «One working day from filing» is the same time of day on the next working day; a request
filed on a day off waits for the first working day to begin.
"""

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

MOSCOW = ZoneInfo("Europe/Moscow")
DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def _calendar(year):
    return holidays.RU(years=year)


def is_working_day(day):
    return _calendar(day.year).is_working_day(day)


def _day_start(day):
    return datetime.combine(day, time(), tzinfo=MOSCOW)


def working_time_between(start, end):
    """The working time from ``start`` to ``end`` (aware datetimes), a timedelta; none if end ≤ start."""
    start, end = start.astimezone(MOSCOW), end.astimezone(MOSCOW)
    total = timedelta()
    day = start.date()
    while _day_start(day) < end:
        if is_working_day(day):
            total += min(end, _day_start(day + DAY)) - max(start, _day_start(day))
        day += DAY
    return max(total, timedelta())


def add_working_time(start, amount):
    """The moment when ``amount`` (a timedelta) of working time has passed since ``start``."""
    moment = start.astimezone(MOSCOW)
    left = amount
    while True:
        day = moment.date()
        if is_working_day(day):
            day_end = _day_start(day + DAY)
            if moment + left <= day_end:
                return moment + left
            left -= day_end - moment
        moment = _day_start(day + DAY)


def due(filed_at, working_days):
    """The deadline of a request filed at ``filed_at`` with ``working_days`` to answer it."""
    return add_working_time(filed_at, working_days * DAY)
