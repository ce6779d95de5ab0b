import pytest
from django.core.management import call_command

from accounts.logins import Role
from accounts.models import User
from cabinet.models import Material
from demo.management.commands.seed_demo import ADMIN_LOGIN, ADMIN_PASSWORD, DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.DEBUG = True  # pytest-django turns it off; seed_demo runs only in development


def test_seed_demo_is_idempotent_and_covers_every_role_in_two_regions(capsys):
    call_command("seed_demo")
    counts = (User.objects.count(), Material.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Material.objects.count()) == counts

    regions_by_role = {
        role: set(User.objects.filter(role=role).values_list("region_id", flat=True)) for role in Role
    }
    assert all(len(regions) >= 2 for regions in regions_by_role.values()), regions_by_role
    assert DEMO_PASSWORD in capsys.readouterr().out


def test_demo_school_and_coordinator_log_in_and_see_their_cabinets(client):
    call_command("seed_demo")
    response = client.post("/login/", {"username": "sch771234", "password": DEMO_PASSWORD}, follow=True)
    assert "Открыт доступ к личным кабинетам" in response.content.decode()
    client.post("/logout/")
    client.post("/login/", {"username": "reg77_vpr", "password": DEMO_PASSWORD})
    accounts = client.get("/cabinet/accounts/").content.decode()
    assert "ГБОУ «Школа № 1234»" in accounts and "sch500101" not in accounts
    client.post("/logout/")
    response = client.post("/login/", {"username": ADMIN_LOGIN, "password": ADMIN_PASSWORD})
    assert response.url == "/admin/"


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_demo_school_can_apply_now_and_download_its_archive(client):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: the same procedure, updated in place
    from procedures.models import ApplicationWork, Procedure

    procedure = Procedure.objects.get()
    client.post("/login/", {"username": "sch771234", "password": DEMO_PASSWORD})
    tab = client.get("/cabinet/vpr/").content.decode()
    assert "ВПР 2027 (демонстрация)" in tab and "Заявка не подана." in tab
    page = client.get(f"/cabinet/procedures/{procedure.pk}/application/").content.decode()
    assert "Заявку можно изменять до" in page
    work = procedure.works.get(code="MA5")
    from django.utils import timezone

    response = client.post(
        f"/cabinet/procedures/{procedure.pk}/application/",
        {
            f"work-{work.pk}-take": "on",
            f"work-{work.pk}-participants": "30",
            f"work-{work.pk}-day": timezone.localdate().isoformat(),
            "version": "0",
        },
    )
    assert response.status_code == 302
    archive = client.get(f"/cabinet/procedures/works/{work.pk}/archive/")
    assert archive.status_code == 200 and b"".join(archive.streaming_content)[:2] == b"PK"
    client.post("/logout/")
    client.post("/login/", {"username": "reg77_vpr_m003", "password": DEMO_PASSWORD})
    progress = client.get(f"/cabinet/procedures/{procedure.pk}/progress/").content.decode()
    assert "Подали заявку: 2 из 2" in progress and "Скачали архив: 1 из 2" in progress
    assert ApplicationWork.objects.filter(archive_downloaded_at__isnull=False).count() == 2


def test_demo_has_results_for_analytics_and_a_school_ready_to_upload(settings):
    from procedures.models import ApplicationWork
    from results.models import Summary

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent: no second results
    schools = settings.DEMO_RESULTS_SCHOOLS
    assert Summary.objects.values("school").distinct().count() == schools + 1  # and the active demo school
    assert Summary.objects.count() == 3 * schools + 2
    uploader = ApplicationWork.objects.get(application__school__code="5601")
    assert uploader.work.code == "MA5" and uploader.results_uploaded_at is None
