"""Query-count guards: each procedure page costs the same number of queries however much data."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procedures.models import Application, ApplicationWork, Material
from tests.conftest import login_client

pytestmark = pytest.mark.django_db


def count(client, path):
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_school_tab_and_application_pages(make_procedure, school, school_org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    procedure = make_procedure(works=("MA5", "RU5", "EN5", "HI5"))
    client = login_client(school)
    tab, form = (
        count(client, "/cabinet/vpr/"),
        count(client, f"/cabinet/procedures/{procedure.pk}/application/"),
    )
    make_procedure(title="ВПР 2027 (резерв)", works=("MA6",))
    application = Application.objects.create(procedure=procedure, school=school_org)
    for work in procedure.works.all():
        ApplicationWork.objects.create(application=application, work=work, participants=5, day=work.held_from)
        Material.objects.create(
            procedure=procedure, work=work, title="Критерии", release_at=work.materials_at
        )
    # One more procedure costs its own few queries (its stages, its lines, its documents), no more.
    assert count(client, "/cabinet/vpr/") <= tab + 3
    # An application adds its lines and its change log: two queries, however many works.
    assert count(client, f"/cabinet/procedures/{procedure.pk}/application/") == form + 2
    assert tab <= 10 and form <= 8, (tab, form)
