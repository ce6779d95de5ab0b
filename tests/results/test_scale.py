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


def _form_data(response):
    """What the admin's change form would post back unchanged: its fields and its inlines'."""
    data = {}

    def add(form):
        for bound in form:
            value = bound.value()
            widget = bound.field.widget
            if hasattr(widget, "widgets"):  # split date and time
                for n, part in enumerate(widget.decompress(value)):
                    data[f"{bound.html_name}_{n}"] = "" if part is None else str(part)
            elif value is not None and value is not False:
                data[bound.html_name] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for form in formset.initial_forms:
            add(form)
    return data


def test_the_admin_change_of_the_scale_recomputes_marks(school_client, line, admin_user):
    from tests.conftest import login_client

    form = download_form(school_client, line.work)
    assert upload(school_client, line.work, fill(form, GOOD)).status_code == 302
    admin = login_client(admin_user)
    url = f"/admin/procedures/work/{line.work.pk}/change/"
    data = _form_data(admin.get(url))
    data.update(scale_3="3", scale_4="5", scale_5="6")
    response = admin.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    summary = Summary.objects.get()
    assert (summary.marks_2, summary.marks_3, summary.marks_4, summary.marks_5) == (2, 1, 0, 1)
