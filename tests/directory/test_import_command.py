import io
import zipfile

import pytest
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management import CommandError, call_command

from accounts.models import Municipality, School, User
from directory.models import DirectoryImport

from .conftest import HEADER, ROWS, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_directory", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def directory_state():
    return (
        sorted(Municipality.objects.values_list("region_id", "code", "name")),
        sorted(School.objects.values_list("region_id", "code", "name", "municipality__code")),
        sorted(User.objects.values_list("username", "role", "region_id", "school_code", "municipality_code")),
    )


def test_imports_municipalities_schools_and_accounts_without_password(directory_file):
    out, _ = run(directory_file(csv_bytes()))
    assert "Муниципалитеты: создать 2, изменить 0, без изменений 0" in out
    assert "ОО: создать 3, изменить 0, без изменений 0" in out
    assert "Учётные записи: создать 6, изменить 0, без изменений 0" in out
    municipalities, schools, users = directory_state()
    assert municipalities == [("50", "012", "Городской округ Химки"), ("77", "003", "Центральный округ")]
    assert ("77", "1234", "ГБОУ «Школа № 1234»", "003") in schools
    assert [u[0] for u in users] == [
        "edu771234", "reg50_vpr_m012", "reg77_vpr_m003", "sch500042", "sch771234", "sch775601",
    ]  # fmt: skip
    assert ("sch771234", "school", "77", "1234", "") in users
    assert ("reg77_vpr_m003", "municipal_vpr", "77", "", "003") in users
    assert all(
        p.startswith(UNUSABLE_PASSWORD_PREFIX) for p in User.objects.values_list("password", flat=True)
    )
    assert not User.objects.get(username="sch771234").has_usable_password()
    record = DirectoryImport.objects.get()
    assert record.status == DirectoryImport.Status.DONE and record.file_name == "справочник.csv"
    assert record.report["counts"]["schools"]["created"] == 3


def test_second_run_changes_nothing(directory_file):
    path = directory_file(csv_bytes())
    run(path)
    before = directory_state()
    passwords = dict(User.objects.values_list("username", "password"))
    out, _ = run(path)
    assert "ОО: создать 0, изменить 0, без изменений 3" in out
    assert "Учётные записи: создать 0, изменить 0, без изменений 6" in out
    assert directory_state() == before
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert DirectoryImport.objects.filter(status="done").count() == 2


def test_rename_and_move_are_changes(directory_file):
    run(directory_file(csv_bytes()))
    rows = [list(r) for r in ROWS]
    rows[0][4] = "ГБОУ «Школа № 1234 имени Пушкина»"
    rows[1][2] = "ЦАО"
    rows[1][2] = rows[0][2] = "ЦАО"
    out, _ = run(directory_file(csv_bytes(rows), "new.csv"))
    assert "Муниципалитеты: создать 0, изменить 1, без изменений 1" in out
    assert "ОО: создать 0, изменить 1, без изменений 2" in out
    assert School.objects.get(code="1234").name == "ГБОУ «Школа № 1234 имени Пушкина»"
    assert Municipality.objects.get(code="003").name == "ЦАО"


def test_xlsx_with_codes_typed_as_numbers(directory_file):
    rows = [[7, 3, "Центральный округ", 1234, "ГБОУ «Школа № 1234»", "Да"]]
    data = xlsx_bytes(rows)
    # Region 07 (Кабардино-Балкарская Республика), municipality 003: Excel dropped the zeros.
    run(directory_file(data, "справочник.xlsx"))
    assert School.objects.get().region_id == "07"
    assert Municipality.objects.get().code == "003"
    assert User.objects.filter(username__in=["sch071234", "edu071234", "reg07_vpr_m003"]).count() == 3


def test_comma_separated_with_bom(directory_file):
    run(directory_file(b"\xef\xbb\xbf" + csv_bytes(delimiter=",")))
    assert School.objects.count() == 3


def test_windows_1251_is_recognised(directory_file):
    run(directory_file(csv_bytes(encoding="cp1251")))
    assert School.objects.get(code="5601").name == "ГБОУ «Гимназия № 56»"


def test_dry_run_writes_nothing(directory_file):
    out, _ = run(directory_file(csv_bytes()), "--dry-run")
    assert "ОО: создать 3" in out
    assert directory_state() == ([], [], [])
    assert not DirectoryImport.objects.exists()


BAD_ROWS = [
    (["99", "003", "Округ", "1234", "Школа", "нет"], "неизвестный код региона «99»"),
    (["7a", "003", "Округ", "1234", "Школа", "нет"], "код региона «7a» должен состоять из двух цифр"),
    (["77", "3b", "Округ", "1234", "Школа", "нет"], "код муниципалитета «3b» должен состоять из трёх цифр"),
    (["77", "003", "Округ", "12", "Школа", "нет"], "код ОО «12» должен состоять из 4–6 цифр"),
    (["77", "003", "Округ", "1234", "", "нет"], "пустое наименование ОО"),
    (["77", "003", "", "1234", "Школа", "нет"], "пустое наименование муниципалитета"),
    (["77", "003", "Округ", "1234", '=HYPERLINK("x")', "нет"], "в ячейке формула"),
    (["77", "003", "Округ", "1234", "Школа", "может"], "в столбце «НИКО» «может» вместо «да» или «нет»"),
    (
        ["77", "003", "Центральный округ", "1234", "Другая школа", "нет"],
        "код ОО 1234 уже встречался в строке 2",
    ),
    (
        ["77", "003", "Другой округ", "9999", "Школа", "нет"],
        "муниципалитет с кодом 003 уже встречался в строке 2",
    ),
]


@pytest.mark.parametrize("row, reason", BAD_ROWS)
def test_bad_row_refuses_whole_file(directory_file, row, reason):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_directory", str(directory_file(csv_bytes([*ROWS, row]))), stderr=err)
    assert f"строка 5: {reason}" in err.getvalue()
    assert directory_state() == ([], [], [])
    assert set(DirectoryImport.objects.values_list("status", flat=True)) == {"refused"}


BAD_FILES = [
    (b"\x00\x01\x02binary\xff\xfe junk" * 50, "справочник.csv", "не в кодировке UTF-8"),
    (b"", "справочник.csv", "Файл пуст."),
    (
        csv_bytes(header=["Region code", "Municipality code", "Municipality", "School code", "Name", "NIKO"]),
        "en.csv",
        "Заголовок файла не на русском языке",
    ),
    (
        csv_bytes(header=[*HEADER, "Код ОО"], rows=[[*r, "1"] for r in ROWS]),
        "dup.csv",
        "Столбец «Код ОО» встречается в заголовке дважды",
    ),
    (
        csv_bytes(header=HEADER[:-1], rows=[r[:-1] for r in ROWS]),
        "short.csv",
        "В первой строке нет столбцов: «НИКО»",
    ),
    (
        csv_bytes(encoding="koi8_r"),
        "koi8.csv",
        "Файл не в кодировке UTF-8. Сохраните его в Excel как «CSV UTF-8",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
        "old.xls",
        "Файлы .xls (Excel 97–2003) не принимаются",
    ),
]


@pytest.mark.parametrize("data, name, message", BAD_FILES)
def test_bad_file_is_refused(directory_file, data, name, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(directory_file(data, name))
    assert directory_state() == ([], [], [])


def test_zip_bomb_xlsx_is_refused(directory_file):
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(CommandError, match="сжат подозрительно сильно"):
        run(directory_file(output.getvalue(), "bomb.xlsx"))
    assert directory_state() == ([], [], [])


def test_file_over_200_mb_is_refused(directory_file, tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.write(csv_bytes())
        f.truncate(200 * 1024 * 1024 + 1)
    with pytest.raises(CommandError, match="Файл больше 200 МБ"):
        run(path)
    assert directory_state() == ([], [], [])


def test_crash_halfway_is_completed_by_running_again(directory_file, monkeypatch):
    from directory import services

    path = directory_file(csv_bytes())
    real = User.objects.bulk_create

    def crash(*args, **kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(User.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        run(path)
    monkeypatch.setattr(User.objects, "bulk_create", real)
    assert School.objects.count() == 3 and User.objects.count() == 0
    DirectoryImport.objects.update(updated_at=services.timezone.now() - services.STALE_AFTER * 2)
    out, _ = run(path)
    assert "ОО: создать 0, изменить 0, без изменений 3" in out
    assert User.objects.count() == 6


def test_second_import_while_one_runs_is_refused(directory_file):
    DirectoryImport.objects.create(file_name="первый.csv", checksum="0" * 64, status="running")
    with pytest.raises(CommandError, match="Сейчас выполняется другой импорт справочника"):
        run(directory_file(csv_bytes()))
    assert directory_state() == ([], [], [])
