import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import School, User
from cabinet.models import Material, MaterialFile, Tab
from tests.conftest import login_client, require_service


def tab_labels(response):
    nav = response.content.decode().split('aria-label="Разделы личного кабинета"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'class="nav-link[^"]*"[^>]*>([^<]+)</a>', nav)


def listed_logins(response):
    return re.findall(r'href="/cabinet/accounts/([^/"]+)/"', response.content.decode())


@pytest.mark.parametrize(
    "login, tabs",
    [
        (
            "sch771234",
            ["Главная", "Ход ВПР", "ФГККО", "Аналитика", "Моя организация", "Техническая поддержка"],
        ),
        ("edu771234", ["Главная", "НИКО", "Моя организация", "Техническая поддержка"]),
        ("reg77_vpr", ["Главная", "Ход ВПР", "Аналитика", "Учётные записи", "Техническая поддержка"]),
        ("reg77_vpr_m003", ["Главная", "Ход ВПР", "Аналитика", "Учётные записи", "Техническая поддержка"]),
        ("niko_77", ["Главная", "НИКО", "Аналитика", "Учётные записи", "Техническая поддержка"]),
        ("spo_coord_77", ["Главная", "СПО", "Аналитика", "Учётные записи", "Техническая поддержка"]),
        ("reg77_kko", ["Главная", "ФГККО", "Аналитика", "Учётные записи", "Техническая поддержка"]),
    ],
)
def test_each_role_sees_its_tabs_and_every_tab_opens(make_account, login, tabs):
    client = login_client(make_account(login))
    home = client.get("/cabinet/")
    assert tab_labels(home) == tabs
    hrefs = re.findall(r'<a class="nav-link[^"]*" href="([^"]+)"', home.content.decode())
    for href in hrefs:
        page = client.get(href)
        assert page.status_code == 200, href
        assert 'aria-current="page"' in page.content.decode()


def test_tab_of_another_role_is_not_found(make_account):
    client = login_client(make_account("niko_77"))
    assert client.get("/cabinet/vpr/").status_code == 404
    assert client.get("/cabinet/no-such-tab/").status_code == 404
    assert client.get("/cabinet/niko/").status_code == 200


def test_materials_reach_only_their_roles_and_regions(make_account):
    make_account("sch501234")
    school77, coordinator77 = make_account("sch771234"), make_account("reg77_vpr")
    for_schools = Material.objects.create(tab=Tab.VPR, title="Для школ: инструкция", text="Порядок работы")
    for_schools.roles.set(["school"])
    for_region50 = Material.objects.create(tab=Tab.VPR, title="Только для Подмосковья")
    for_region50.regions.set(["50"])
    Material.objects.create(tab=Tab.VPR, title="Черновик", is_published=False)
    Material.objects.create(tab=Tab.VPR, title="Завтра", published_at=timezone.now() + timedelta(days=1))
    Material.objects.create(tab=Tab.VPR, title="Всем участникам ВПР")

    def titles(user):
        return re.findall(
            r'<h2 class="h5 card-title">([^<]+)</h2>',
            login_client(user).get("/cabinet/vpr/").content.decode(),
        )

    assert titles(school77) == ["Всем участникам ВПР", "Для школ: инструкция"]
    assert titles(coordinator77) == ["Всем участникам ВПР"]
    assert titles(User.objects.get(username="sch501234")) == [
        "Всем участникам ВПР",
        "Только для Подмосковья",
        "Для школ: инструкция",
    ]


def test_material_shows_text_date_and_file(make_account, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    school = make_account("sch771234")
    material = Material.objects.create(tab=Tab.KKO, title="График", text="Первая строка")
    MaterialFile.objects.create(
        material=material, title="График (xlsx)", file=ContentFile(b"data", name="g.xlsx")
    )
    html = login_client(school).get("/cabinet/kko/").content.decode()
    assert "Первая строка" in html
    assert timezone.localdate().strftime("%d.%m.%Y") in html
    assert "График (xlsx)" in html


@pytest.fixture
def vpr_file(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    material = Material.objects.create(tab=Tab.VPR, title="План-график")
    return MaterialFile.objects.create(material=material, file=ContentFile(b"plan", name="plan.txt"))


def test_material_file_downloads_for_those_who_see_it(make_account, vpr_file):
    response = login_client(make_account("sch771234")).get(f"/cabinet/files/{vpr_file.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == b"plan"


def test_material_file_is_hidden_from_others(make_account, vpr_file, anonymous_client):
    assert login_client(make_account("niko_77")).get(f"/cabinet/files/{vpr_file.pk}/").status_code == 404
    response = anonymous_client.get(f"/cabinet/files/{vpr_file.pk}/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_regional_coordinator_sees_only_its_region(make_account, regional_coordinator, school, other_school):
    make_account("reg77_vpr_m003")
    make_account("edu771234")
    make_account("niko_77")
    make_account("sch501234")
    make_account("reg50_vpr_m012")
    page = login_client(regional_coordinator).get("/cabinet/accounts/")
    assert listed_logins(page) == ["edu771234", "reg77_vpr_m003", "sch771234", "sch775601"]
    html = page.content.decode()
    assert "ГБОУ «Школа № 1234»" in html and "Центральный округ" in html


def test_account_made_in_the_admin_is_listed(admin_client, regional_coordinator):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "sch770042",
            "password1": "Very-long-pass-42",
            "password2": "Very-long-pass-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    School.objects.create(region_id="77", code="0042", name="Школа № 42")
    page = login_client(regional_coordinator).get("/cabinet/accounts/?q=42")
    assert listed_logins(page) == ["sch770042"]
    assert "Школа № 42" in page.content.decode()


def test_admin_refuses_a_login_of_no_known_shape(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "school1234",
            "password1": "Very-long-pass-42",
            "password2": "Very-long-pass-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert "не соответствует ни одному шаблону" in response.content.decode()
    assert not User.objects.filter(username="school1234").exists()


def test_municipal_coordinator_sees_its_municipality(
    make_account, municipal_coordinator, school, other_school
):
    make_account("reg77_vpr_m004")
    make_account("sch501234")
    page = login_client(municipal_coordinator).get("/cabinet/accounts/")
    assert listed_logins(page) == ["reg77_vpr_m003", "sch771234"]


def test_school_sees_only_itself(school, other_school):
    client = login_client(school)
    assert listed_logins(client.get("/cabinet/accounts/")) == ["sch771234"]
    own = client.get("/cabinet/accounts/sch771234/")
    assert own.status_code == 200 and "ГБОУ «Школа № 1234»" in own.content.decode()
    assert client.get("/cabinet/accounts/sch775601/").status_code == 404


def test_coordinator_gets_404_for_another_regions_account(make_account, regional_coordinator):
    make_account("sch501234")
    assert login_client(regional_coordinator).get("/cabinet/accounts/sch501234/").status_code == 404


def test_accounts_search_by_login_and_name(regional_coordinator, school, other_school):
    client = login_client(regional_coordinator)
    assert listed_logins(client.get("/cabinet/accounts/?q=Гимназия")) == ["sch775601"]
    assert listed_logins(client.get("/cabinet/accounts/?q=771234")) == ["sch771234"]
    assert "Ничего не найдено" in client.get("/cabinet/accounts/?q=нет такой").content.decode()


def test_accounts_search_ignores_the_case_of_cyrillic(regional_coordinator, school, other_school):
    # SQLite folds only ASCII case; the deployed database is PostgreSQL.
    require_service(connection.vendor == "postgresql", "PostgreSQL is not configured (DATABASE_URL)")
    client = login_client(regional_coordinator)
    assert listed_logins(client.get("/cabinet/accounts/?q=гимназия")) == ["sch775601"]


def test_accounts_list_is_paginated(settings, make_account, regional_coordinator):
    settings.CABINET_PAGE_SIZE = 5
    for n in range(12):
        make_account(f"sch77{n:04d}")
    client = login_client(regional_coordinator)
    first, last = client.get("/cabinet/accounts/"), client.get("/cabinet/accounts/?page=3")
    assert len(listed_logins(first)) == 5 and "Страница 1 из 3" in first.content.decode()
    assert listed_logins(last) == ["sch770010", "sch770011"]


def test_staff_are_sent_from_the_cabinet_to_the_admin(operator):
    assert login_client(operator).get("/cabinet/accounts/").url == "/admin/"


def add_schools(count):
    schools, users = [], []
    for n in range(count):
        code = f"{n:05d}"
        schools.append(School(region_id="77", code=code, name=f"Школа № {n}"))
        user = User(username=f"sch77{code}", password="!")
        user.apply_login()
        users.append(user)
    School.objects.bulk_create(schools)
    User.objects.bulk_create(users)


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "url", ["/cabinet/", "/cabinet/vpr/", "/cabinet/accounts/", "/cabinet/accounts/?q=Школа"]
)
def test_cabinet_queries_do_not_grow_with_the_region(
    regional_coordinator, django_assert_max_num_queries, url, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    material = Material.objects.create(tab=Tab.VPR, title="С файлами")
    MaterialFile.objects.create(material=material, file=ContentFile(b"x", name="a.txt"))
    client = login_client(regional_coordinator)
    add_schools(10)
    small = count_queries(client, url)
    User.objects.filter(role="school").delete()
    School.objects.all().delete()
    add_schools(1000)
    with django_assert_max_num_queries(8):
        large = count_queries(client, url)
    assert large == small


def test_staff_publish_a_material_with_a_file_in_the_admin(admin_client, settings, tmp_path, make_account):
    settings.MEDIA_ROOT = tmp_path
    upload = ContentFile(b"%PDF-1.4 schedule", name="grafik.pdf")
    response = admin_client.post(
        "/admin/cabinet/material/add/",
        {
            "tab": "vpr",
            "title": "График ВПР для Москвы",
            "text": "Сроки проведения",
            "published_at_0": timezone.localdate().strftime("%d.%m.%Y"),
            "published_at_1": "00:00:00",
            "is_published": "on",
            "roles": ["school"],
            "regions": ["77"],
            "files-TOTAL_FORMS": "1",
            "files-INITIAL_FORMS": "0",
            "files-0-title": "График",
            "files-0-file": upload,
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else ""
    material = Material.objects.get()
    stored = material.files.get()
    assert (tmp_path / stored.file.name).stat().st_mode & 0o777 == 0o600

    school_client = login_client(make_account("sch771234"))
    html = school_client.get("/cabinet/vpr/").content.decode()
    assert "График ВПР для Москвы" in html and "График" in html
    download = school_client.get(f"/cabinet/files/{stored.pk}/")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 schedule"
    assert (
        "График ВПР для Москвы"
        not in login_client(make_account("sch501234")).get("/cabinet/vpr/").content.decode()
    )


def test_file_of_a_material_for_another_region_or_role_is_not_found(make_account, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for_region50 = Material.objects.create(tab=Tab.VPR, title="Только для 50")
    for_region50.regions.set(["50"])
    for_coordinators = Material.objects.create(tab=Tab.VPR, title="Только для координаторов")
    for_coordinators.roles.set(["regional_vpr"])
    files = [
        MaterialFile.objects.create(material=m, file=ContentFile(b"x", name="f.txt"))
        for m in (for_region50, for_coordinators)
    ]
    client = login_client(make_account("sch771234"))
    assert [client.get(f"/cabinet/files/{f.pk}/").status_code for f in files] == [404, 404]
    assert login_client(make_account("sch501234")).get(f"/cabinet/files/{files[0].pk}/").status_code == 200


def test_material_for_several_roles_and_regions_is_listed_once(make_account):
    material = Material.objects.create(tab=Tab.VPR, title="Общий график")
    material.roles.set(["school", "regional_vpr", "municipal_vpr"])
    material.regions.set(["77", "50", "16"])
    html = login_client(make_account("sch771234")).get("/cabinet/vpr/").content.decode()
    assert html.count("Общий график") == 1


def test_staff_account_with_a_login_shaped_name_is_not_listed(regional_coordinator, school):
    User.objects.create_user("sch779999", password="x", is_staff=True)
    assert listed_logins(login_client(regional_coordinator).get("/cabinet/accounts/")) == ["sch771234"]


def test_school_of_another_regions_municipality_is_not_listed(
    make_account, municipal_coordinator, municipality
):
    from accounts.models import Municipality

    foreign = Municipality.objects.create(region_id="50", code="003", name="Чужой округ")
    School.objects.create(region_id="77", code="4444", name="Школа", municipality=foreign)
    make_account("sch774444")
    assert listed_logins(login_client(municipal_coordinator).get("/cabinet/accounts/")) == ["reg77_vpr_m003"]


def test_tab_queries_do_not_grow_with_the_number_of_materials(regional_coordinator, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = login_client(regional_coordinator)

    def add_materials(count):
        for n in range(count):
            material = Material.objects.create(tab=Tab.VPR, title=f"Материал {n}")
            MaterialFile.objects.create(material=material, file=ContentFile(b"x", name="a.txt"))

    add_materials(1)
    one = count_queries(client, "/cabinet/vpr/")
    add_materials(20)
    assert count_queries(client, "/cabinet/vpr/") == one
