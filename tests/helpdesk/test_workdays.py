"""Deadlines on the Russian production calendar (issue 16, item 5)."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group

from helpdesk import services, workdays
from helpdesk.models import Status, Ticket
from tests.conftest import login_client
from tests.helpdesk.conftest import TICKET_DATA, pdf

pytestmark = pytest.mark.django_db

MSK = workdays.MOSCOW
LIST_URL = "/admin/helpdesk/ticket/"


def msk(*args):
    return datetime(*args, tzinfo=MSK)


# The calendar


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        # Постановление Правительства РФ от 04.10.2024 № 1335 «О переносе выходных дней в 2025 году»
        (date(2025, 5, 2), False, "day off moved from Saturday 4 January"),
        (date(2025, 5, 8), False, "day off moved from Sunday 5 January"),
        (date(2025, 6, 13), False, "day off moved from Saturday 8 March"),
        (date(2025, 11, 1), True, "Saturday made a working day"),
        (date(2025, 11, 3), False, "day off moved from Saturday 1 November"),
        (date(2025, 12, 31), False, "day off moved from Sunday 5 January"),
        # Постановление Правительства РФ от 24.09.2025 № 1466 «О переносе выходных дней в 2026 году»
        (date(2026, 1, 9), False, "day off moved from Saturday 3 January"),
        (date(2026, 12, 31), False, "day off moved from Sunday 4 January"),
        # The Labour Code: holidays, and a holiday on a weekend carried to the next working day
        (date(2026, 6, 12), False, "Russia Day"),
        (date(2026, 3, 9), False, "8 March on a Sunday, carried to Monday"),
        (date(2026, 1, 12), True, "an ordinary Monday"),
        (date(2026, 1, 10), False, "an ordinary Saturday"),
    ],
)
def test_production_calendar_knows_the_days_moved_by_decree(day, working, why):
    assert workdays.is_working_day(day) is working, why


def test_one_working_day_from_the_eve_of_a_holiday_skips_the_holiday_the_moved_day_and_the_weekend():
    # Wednesday 11 June 2025: then Russia Day, Friday 13 June (moved from 8 March), the weekend.
    assert workdays.due(msk(2025, 6, 11, 14, 30), 1) == msk(2025, 6, 16, 14, 30)


def test_one_working_day_from_a_friday_before_a_working_saturday_ends_on_the_saturday():
    # Saturday 1 November 2025 was made a working day by decree № 1335.
    assert workdays.due(msk(2025, 10, 31, 10, 0), 1) == msk(2025, 11, 1, 10, 0)


def test_one_working_day_from_the_working_saturday_skips_the_moved_monday_and_the_holiday():
    assert workdays.due(msk(2025, 11, 1, 10, 0), 1) == msk(2025, 11, 5, 10, 0)


def test_new_year_holidays_and_the_moved_ninth_of_january_are_skipped():
    assert workdays.due(msk(2025, 12, 30, 15, 0), 1) == msk(2026, 1, 12, 15, 0)


def test_a_request_filed_on_a_day_off_waits_for_the_first_working_day_to_begin():
    # Sunday: the clock starts at Monday 00:00 and runs for one whole working day.
    assert workdays.due(msk(2025, 6, 15, 9, 0), 1) == msk(2025, 6, 17, 0, 0)


def test_working_days_count_in_moscow_time_whatever_the_zone_of_the_moment():
    filed = msk(2025, 6, 11, 14, 30)
    assert workdays.due(filed.astimezone(workdays.ZoneInfo("UTC")), 1) == msk(2025, 6, 16, 14, 30)


def test_working_time_between_leaves_out_days_off():
    # Friday 18:00 to Monday 06:00: six hours of Friday, six of Monday.
    assert workdays.working_time_between(msk(2026, 1, 16, 18), msk(2026, 1, 19, 6)) == timedelta(hours=12)
    assert workdays.working_time_between(msk(2026, 1, 19, 6), msk(2026, 1, 16, 18)) == timedelta()


# The deadline of a request


@pytest.fixture
def file_ticket(django_capture_on_commit_callbacks):
    def file(**changes):
        with django_capture_on_commit_callbacks(execute=True):
            return services.ticket_submit(
                data={**TICKET_DATA, **changes}, files=[(pdf(), "scan.pdf", "application/pdf")]
            )

    return file


def test_a_request_filed_on_the_eve_of_a_holiday_is_due_after_it(settings, file_ticket):
    settings.HELPDESK_ANSWER_DAYS = 1
    with time_machine.travel(msk(2025, 6, 11, 14, 30), tick=False):
        ticket = file_ticket()
    ticket.refresh_from_db()
    assert ticket.due_at == msk(2025, 6, 16, 14, 30)


def test_the_answer_days_setting_sets_the_deadline(settings, file_ticket):
    settings.HELPDESK_ANSWER_DAYS = 2
    with time_machine.travel(msk(2025, 10, 30, 9, 0), tick=False):  # Thursday
        ticket = file_ticket()
    ticket.refresh_from_db()
    assert ticket.due_at == msk(2025, 11, 1, 9, 0), "Friday, then the Saturday worked by decree"


def test_time_waiting_for_the_requester_moves_the_deadline_on_by_its_working_time(file_ticket):
    with time_machine.travel(msk(2025, 6, 10, 14, 0), tick=False):  # Tuesday
        ticket = file_ticket()
    assert ticket.due_at == msk(2025, 6, 11, 14, 0)
    # Waiting from Wednesday 10:00 to Monday 10:00: 14 hours of Wednesday, 10 of Monday.
    ticket = services.ticket_due_extend(
        ticket=ticket, paused_from=msk(2025, 6, 11, 10, 0), paused_until=msk(2025, 6, 16, 10, 0)
    )
    ticket.refresh_from_db()
    assert ticket.due_at == msk(2025, 6, 16, 14, 0)


# The operators' list


@pytest.fixture
def op(operator):
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    return login_client(operator)


def test_the_list_shows_the_deadline_marks_the_overdue_and_filters_them(op, file_ticket):
    with time_machine.travel(msk(2025, 6, 10, 14, 0), tick=False):
        late = file_ticket(login="sch770017")
        done_late = file_ticket(login="sch775601")
    Ticket.objects.filter(pk=done_late.pk).update(status=Status.DONE)
    fresh = file_ticket()

    html = op.get(LIST_URL).content.decode()
    assert "11.06.2025 14:00 · просрочена" in html
    assert html.count("· просрочена") == 1, "a closed request is not overdue"

    response = op.get(LIST_URL, {"due": "overdue"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Просрочена" in html
    assert late.number in html
    assert fresh.number not in html and done_late.number not in html
