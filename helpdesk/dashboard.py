"""The desk at a glance: what is open, where, what is late, what came in and went out, how fast.

A fixed handful of queries whatever the table's size: the open requests are few (most are closed)
and read through the status index; the last 30 days' filings and closings through the indexes on
``created_at`` and ``closed_at`` (which the services stamp when they close a request, so no page
reads the events table); the medians are computed by PostgreSQL in one query.
"""

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import NOT_CLOSED_STATUSES, OPEN_STATUSES, Status, Ticket

DAYS = 30

# The chart's geometry, in SVG user units.
BAR = 8
DAY_WIDTH = 2 * BAR + 6
CHART_HEIGHT = 160
CHART_TOP = 10
AXIS_LEFT = 40


class Median(Aggregate):
    """PostgreSQL's exact median (percentile_cont), with a FILTER like any aggregate."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass(frozen=True)
class Day:
    day: date
    filed: int
    closed: int
    x: int = 0
    filed_height: int = 0
    closed_height: int = 0

    @property
    def filed_y(self):
        return CHART_TOP + CHART_HEIGHT - self.filed_height

    @property
    def closed_y(self):
        return CHART_TOP + CHART_HEIGHT - self.closed_height

    @property
    def closed_x(self):
        return self.x + BAR


@dataclass(frozen=True)
class Dashboard:
    by_status: list  # [(label, count)], every not-closed status, zeros included
    by_region: list  # [(region name, count)], most first
    overdue: int
    days: list  # [Day], oldest first
    median_this_week: timedelta | None
    median_last_week: timedelta | None
    scale_max: int  # the chart's top value
    chart_width: int

    @property
    def open_total(self):
        return sum(count for _label, count in self.by_status)

    @property
    def ticks(self):
        """(value, y) for the chart's value axis: 0, the middle and the top."""
        top = self.scale_max
        return [
            (value, CHART_TOP + CHART_HEIGHT - round(CHART_HEIGHT * value / top))
            for value in (0, top // 2, top)
        ]

    chart_height = CHART_TOP + CHART_HEIGHT + 30
    axis_bottom = CHART_TOP + CHART_HEIGHT
    axis_left = AXIS_LEFT
    bar = BAR


def desk_dashboard(*, now=None):
    now = now or timezone.now()
    today = timezone.localdate(now)
    first_day = today - timedelta(days=DAYS - 1)
    since = _midnight(first_day)
    not_closed = Ticket.objects.filter(status__in=NOT_CLOSED_STATUSES).order_by()

    counts = dict(not_closed.values_list("status").annotate(n=Count("pk")))
    by_status = [
        (status.label, counts.get(status.value, 0)) for status in Status if status in NOT_CLOSED_STATUSES
    ]
    by_region = [
        (name, n)
        for name, n in not_closed.values_list("region__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "region__name")
    ]
    overdue = _overdue(now)
    filed = _per_day(Ticket.objects.filter(created_at__gte=since), "created_at")
    closed = _per_day(Ticket.objects.filter(closed_at__gte=since), "closed_at")
    this_monday = today - timedelta(days=today.weekday())
    this_week, last_week = _medians(_midnight(this_monday - timedelta(days=7)), _midnight(this_monday), now)

    values = [(first_day + timedelta(days=i)) for i in range(DAYS)]
    top = _nice_max(max([*filed.values(), *closed.values(), 1]))
    days = [
        Day(
            day=day,
            filed=filed.get(day, 0),
            closed=closed.get(day, 0),
            x=AXIS_LEFT + 4 + i * DAY_WIDTH,
            filed_height=round(CHART_HEIGHT * filed.get(day, 0) / top),
            closed_height=round(CHART_HEIGHT * closed.get(day, 0) / top),
        )
        for i, day in enumerate(values)
    ]
    return Dashboard(
        by_status=by_status,
        by_region=by_region,
        overdue=overdue,
        days=days,
        median_this_week=this_week,
        median_last_week=last_week,
        scale_max=top,
        chart_width=AXIS_LEFT + 8 + DAYS * DAY_WIDTH,
    )


def _midnight(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def _overdue(now):
    # As the list's «Просрочена» (on its partial index): a request waiting for its requester is not
    # late, its deadline is paused.
    return Ticket.objects.filter(status__in=OPEN_STATUSES, due_at__lt=now).count()


def _per_day(rows, field):
    """{local date: count} of ``rows`` by the day of ``field`` (Moscow time, the desk's day)."""
    return dict(rows.order_by().annotate(day=TruncDate(field)).values_list("day").annotate(n=Count("pk")))


def _medians(last_monday, this_monday, now):
    """The median time from filing to closing of the requests closed this week and last week."""
    took = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    this_week = Q(closed_at__gte=this_monday, closed_at__lte=now)
    last_week = Q(closed_at__gte=last_monday, closed_at__lt=this_monday)
    rows = Ticket.objects.filter(closed_at__gte=last_monday).order_by()
    if connection.vendor == "postgresql":
        result = rows.aggregate(
            this=Median(took, filter=this_week, output_field=DurationField()),
            last=Median(took, filter=last_week, output_field=DurationField()),
        )
        return result["this"], result["last"]
    # Elsewhere (the SQLite of a quick local run) the two weeks' rows are few: the median in Python.
    spans = list(rows.values_list("created_at", "closed_at"))
    return (
        _median([c - f for f, c in spans if this_monday <= c <= now]),
        _median([c - f for f, c in spans if last_monday <= c < this_monday]),
    )


def _median(durations):
    return statistics.median(durations) if durations else None


def _nice_max(value):
    """The chart's top: the smallest of 1, 2, 5 × 10ⁿ at or above ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def duration_text(span):
    """«2 д 3 ч», «5 ч 10 мин», «—» for none."""
    if span is None:
        return "—"
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} д {hours} ч"
    if hours:
        return f"{hours} ч {minutes} мин"
    return f"{minutes} мин"
