import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from procedures.importing import ProcedureFileError, procedure_import
from procedures.models import Application, ApplicationWork, ArchiveDownload, Procedure, Task, Work
from tests.conftest import login_client

from .conftest import moscow, procedure_file

pytestmark = pytest.mark.django_db


def errors_of(content):
    with pytest.raises(ProcedureFileError) as caught:
        procedure_import(content=content)
    return caught.value.errors


def test_import_creates_the_procedure_with_stages_works_tasks_and_scale(imported):
    assert (imported.kind, imported.title, imported.year) == ("vpr", "ВПР 2027", 2027)
    stages = list(imported.stages.all())
    assert [s.title for s in stages] == ["Заявка на участие", "Проверка заявок ОО"]
    # A date alone is the whole day, Moscow time.
    assert stages[0].starts == moscow(2027, 2, 1)
    assert stages[0].ends.astimezone(moscow(2027, 1, 1).tzinfo).strftime("%d.%m %H:%M") == "14.02 23:59"
    work = imported.works.get()
    assert (work.code, work.grade, work.scale_3, work.scale_4, work.scale_5) == ("MA5", 5, 5, 10, 15)
    assert work.materials_at == moscow(2027, 4, 13, 9)
    assert [(t.label, t.max) for t in work.tasks.all()] == [("1", 1), ("4(1)", 2), ("5", 20)]


def test_every_error_is_listed_with_its_path_and_nothing_changes():
    data = json.loads(procedure_file())
    data["kind"] = "ege"
    data["stages"][1]["role"] = "teacher"
    data["stages"][0]["ends"] = "2027-01-01"
    data["works"][0]["tasks"][1]["max"] = 101
    data["works"][0]["tasks"][2]["max"] = "2"
    data["works"][0]["grade"] = 12
    data["works"][0]["held_until"] = "2027-13-40"
    data["works"][0]["scale"] = [5, 4, 15]
    data["works"].append({**data["works"][0], "extra": 1})
    errors = errors_of(json.dumps(data).encode())
    assert "kind: должно быть одним из: vpr, niko, spo, kko" in errors
    assert "stages[1].role: должно быть одним из: school, municipal, regional, federal" in errors
    assert "stages[0].ends: окончание этапа раньше его начала" in errors
    assert "works[0].tasks[1].max: должно быть целым числом от 1 до 100" in errors
    assert "works[0].tasks[2].max: должно быть целым числом от 1 до 100" in errors
    assert "works[0].grade: должно быть целым числом от 1 до 11" in errors
    assert "works[0].held_until: должно быть датой в виде ГГГГ-ММ-ДД" in errors
    assert "works[0].scale: баллы на «3», «4» и «5» должны быть больше нуля и возрастать" in errors
    assert "works[1].extra: неизвестное поле" in errors
    assert "works[1].code: код «MA5» уже встречался в списке работ" in errors
    assert not Procedure.objects.exists() and not Work.objects.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "Файл не является JSON: строка 1, столбец 2"),
        (b"[]", "должен быть объектом"),
        (b"{}", "kind: обязательное поле отсутствует"),
        (procedure_file(works=[]), "works: должен быть непустым списком […]"),
        (procedure_file(year=True), "year: должно быть целым числом от 2000 до 2100"),
        (procedure_file(title="  "), "title: должно быть непустой строкой"),
        ("{}".encode("utf-16"), "Файл не в кодировке UTF-8."),
    ],
)
def test_each_malformed_file_is_refused_in_russian(content, message):
    assert any(message in e for e in errors_of(content))
    assert not Procedure.objects.exists()


def test_reimport_updates_in_place_and_keeps_applications_and_downloads(imported, school_org):
    work = imported.works.get()
    application = Application.objects.create(procedure=imported, school=school_org)
    ApplicationWork.objects.create(application=application, work=work, participants=20, day=work.held_from)
    ArchiveDownload.objects.create(username="sch771234", school=school_org, work=work, what="archive")
    data = json.loads(procedure_file())
    data["kind"] = "vpr"
    data["works"][0]["subject"] = "Математика (новая)"
    data["works"][0]["tasks"] = [{"label": "4(1)", "max": 3}, {"label": "6", "max": 20}]
    data["works"].append({**data["works"][0], "code": "RU5", "subject": "Русский язык"})
    data["stages"] = data["stages"][:1]
    task_pk = Task.objects.get(work=work, label="4(1)").pk

    result = procedure_import(content=json.dumps(data).encode())

    assert result.procedure.pk == imported.pk and not result.created
    assert result.works_created == ["RU5"] and result.works_updated == ["MA5"]
    work.refresh_from_db()
    assert work.subject == "Математика (новая)"
    assert [(t.pk == task_pk, t.label, t.max) for t in work.tasks.all()] == [
        (True, "4(1)", 3),
        (False, "6", 20),
    ]
    assert imported.stages.count() == 1
    assert ApplicationWork.objects.get().work_id == work.pk
    assert ArchiveDownload.objects.get().work_id == work.pk


def test_reimport_refuses_to_drop_a_work_schools_applied_for(imported, school_org):
    work = imported.works.get()
    application = Application.objects.create(procedure=imported, school=school_org)
    ApplicationWork.objects.create(application=application, work=work, participants=20, day=work.held_from)
    data = json.loads(procedure_file())
    data["works"][0]["code"] = "RU5"
    errors = errors_of(json.dumps(data).encode())
    assert errors == [
        "works: работы «MA5» нет в файле, но по ней уже есть заявки, скачивания или результаты школ"
        " — её нельзя удалить"
    ]
    assert list(Work.objects.values_list("code", flat=True)) == ["MA5"]


def test_command_imports_and_exits_non_zero_on_errors(tmp_path, capsys):
    good = tmp_path / "vpr.json"
    good.write_bytes(procedure_file())
    call_command("import_procedure", str(good))
    assert "Процедура «ВПР 2027» (2027) создана" in capsys.readouterr().out

    bad = tmp_path / "bad.json"
    data = json.loads(procedure_file(title="Другая"))
    data["works"][0]["tasks"][1]["max"] = 0
    bad.write_text(json.dumps(data))
    with pytest.raises(CommandError, match="Ничего не изменено"):
        call_command("import_procedure", str(bad))
    assert "works[0].tasks[1].max: должно быть целым числом от 1 до 100" in capsys.readouterr().err
    assert list(Procedure.objects.values_list("title", flat=True)) == ["ВПР 2027"]


def test_admin_upload_shows_every_error_or_the_result(admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login_client(admin_user)
    data = json.loads(procedure_file())
    data["works"][0]["tasks"][1]["max"] = 0
    data["stages"][0]["role"] = "x"
    response = client.post(
        "/admin/procedures/procedure/import/",
        {"file": SimpleUploadedFile("p.json", json.dumps(data).encode())},
    )
    html = response.content.decode()
    assert "Файл не загружен, ничего не изменено. Ошибок: 2." in html
    assert "works[0].tasks[1].max: должно быть целым числом от 1 до 100" in html
    assert not Procedure.objects.exists()

    response = client.post(
        "/admin/procedures/procedure/import/",
        {"file": SimpleUploadedFile("p.json", procedure_file())},
        follow=True,
    )
    assert "Процедура «ВПР 2027» (2027) создана" in response.content.decode()
    assert Procedure.objects.get().works.count() == 1


def test_admin_pages_of_a_procedure_open(imported, admin_user, school_org):
    client = login_client(admin_user)
    work = imported.works.get()
    Application.objects.create(procedure=imported, school=school_org)
    for path in [
        "/admin/procedures/procedure/",
        f"/admin/procedures/procedure/{imported.pk}/change/",
        f"/admin/procedures/work/{work.pk}/change/",
        "/admin/procedures/application/",
        f"/admin/procedures/application/{Application.objects.get().pk}/change/",
        "/admin/procedures/archivedownload/",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
    assert "Загрузить из JSON" in client.get("/admin/procedures/procedure/").content.decode()
