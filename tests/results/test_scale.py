import pytest

from results.models import Participant, Summary

from .conftest import download_form, fill, upload
from .test_upload import GOOD

pytestmark = pytest.mark.django_db


def test_a_staff_change_of_the_scale_recomputes_marks_and_summaries(school_client, line):
    form = download_form(school_client, line.work)
    assert upload(school_client, line.work, fill(form, GOOD)).status_code == 302
    work = line.work
    # Scores 6, 1, 4, 2 were 5, 2, 4, 3; with 3 / 5 / 6 they become 5, 2, 3, 2.
    work.scale_3, work.scale_4, work.scale_5 = 3, 5, 6
    work.save()  # what the admin's change form does
    marks = sorted(Participant.objects.exclude(mark=None).values_list("primary", "mark"))
    assert marks == [(1, 2), (2, 2), (4, 3), (6, 5)]
    summary = Summary.objects.get()
    assert (summary.marks_2, summary.marks_3, summary.marks_4, summary.marks_5) == (2, 1, 0, 1)
    # Journal marks 5, 4, 3, 2 against 5, 2, 3, 2: lowered one, confirmed three.
    assert (summary.lowered, summary.confirmed, summary.raised) == (1, 3, 0)
    assert summary.participants == 4 and summary.tasks == [2, 5, 6]


def test_an_unchanged_save_recomputes_nothing(school_client, line, django_assert_max_num_queries):
    work = line.work
    work.subject = "Математика (новая)"
    with django_assert_max_num_queries(3):
        work.save()
