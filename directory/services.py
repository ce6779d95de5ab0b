"""The directory import of SPEC §9: a plan computed from the file, then written in batches.

One service behind the admin and ``manage.py import_directory``. ``directory_plan`` reads the
file and the database and says what would be created and changed, and every bad row; nothing
is written. ``import_run`` writes a plan with upserts by code, batch by batch, each batch its own
transaction: a crash halfway leaves whole batches, and the same file run again plans only
what is still missing, so it completes the import.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.logins import Role, parse_login
from accounts.models import Municipality, Region, School, User

from .models import DirectoryImport
from .spreadsheet import FileRefused, read_rows

BATCH_SIZE = 2000
SAMPLE_SIZE = 20
# A running import that has not moved for this long lost its worker: a new import may start.
STALE_AFTER = timedelta(minutes=30)
_DIGITS = {
    "region": re.compile(r"[0-9]{2}"),
    "municipality": re.compile(r"[0-9]{3}"),
    "school": re.compile(r"[0-9]{4,6}"),
}
_NAME_LIMITS = {"municipality_name": 300, "school_name": 500}
IMPORTED_ROLES = [Role.SCHOOL, Role.SCHOOL_NIKO, Role.MUNICIPAL_VPR]


class ImportBusy(Exception):
    pass


def _counts():
    return {"created": 0, "changed": 0, "unchanged": 0}


@dataclass
class Plan:
    rows: int = 0
    encoding_note: str = ""
    errors: list = field(default_factory=list)  # [line, reason]
    municipalities: dict = field(default_factory=dict)  # (region, code) -> name, to create or rename
    schools: dict = field(default_factory=dict)  # (region, code) -> (name, municipality code), to write
    logins: list = field(default_factory=list)  # logins to create
    counts: dict = field(
        default_factory=lambda: {"municipalities": _counts(), "schools": _counts(), "accounts": _counts()}
    )
    sample: list = field(default_factory=list)

    def summary(self):
        """The preview as stored with the import and shown to staff (JSON)."""
        return {"rows": self.rows, "counts": self.counts, "sample": self.sample, "errors": self.errors}

    def _note(self, text):
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(text)


def checksum_of(file):
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(1 << 20), b""):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _pad(value, width):
    # Excel drops the leading zeros of a code typed as a number; these codes have a fixed width.
    return value.zfill(width) if value.isdigit() and len(value) < width else value


def _row_errors(values, regions):
    errors = []
    region = values["region"] = _pad(values["region"], 2)
    values["municipality_code"] = _pad(values["municipality_code"], 3)
    for value in values.values():
        if value.startswith("="):
            errors.append(f"в ячейке формула «{value[:40]}»: сохраните в файле значения, а не формулы")
    if not _DIGITS["region"].fullmatch(region):
        errors.append(f"код региона «{region}» должен состоять из двух цифр")
    elif region not in regions:
        errors.append(f"неизвестный код региона «{region}»")
    if not _DIGITS["municipality"].fullmatch(values["municipality_code"]):
        errors.append(f"код муниципалитета «{values['municipality_code']}» должен состоять из трёх цифр")
    if not _DIGITS["school"].fullmatch(values["school_code"]):
        errors.append(f"код ОО «{values['school_code']}» должен состоять из 4–6 цифр")
    for key, label in [
        ("municipality_name", "наименование муниципалитета"),
        ("school_name", "наименование ОО"),
    ]:
        values[key] = " ".join(values[key].split())
        if not values[key]:
            errors.append(f"пустое {label}")
        elif len(values[key]) > _NAME_LIMITS[key]:
            errors.append(f"{label} длиннее {_NAME_LIMITS[key]} знаков")
    niko = values["niko"].casefold()
    if niko not in ("да", "нет", ""):
        errors.append(f"в столбце «НИКО» «{values['niko'][:20]}» вместо «да» или «нет»")
    values["niko"] = niko == "да"
    return errors


def directory_plan(*, file, size):
    """Read the directory file and compare it with the database; write nothing.

    Raises FileRefused for a file that cannot be read as a directory at all.
    """
    plan = Plan()
    regions = set(Region.objects.values_list("code", flat=True))
    municipalities, schools, first_line = {}, {}, {}
    for line, values in read_rows(file, size=size):
        plan.rows += 1
        errors = _row_errors(values, regions)
        region = values["region"]
        muni_key = (region, values["municipality_code"])
        school_key = (region, values["school_code"])
        if not errors:
            name = municipalities.setdefault(muni_key, values["municipality_name"])
            if name != values["municipality_name"]:
                errors.append(
                    f"муниципалитет с кодом {muni_key[1]} уже встречался в строке {first_line[muni_key]} "
                    f"под другим наименованием «{name}»"
                )
            seen = schools.setdefault(school_key, (values["school_name"], muni_key[1], values["niko"]))
            if seen[:2] != (values["school_name"], muni_key[1]):
                errors.append(
                    f"код ОО {school_key[1]} уже встречался в строке {first_line[school_key]} "
                    f"с другим наименованием или муниципалитетом («{seen[0]}»)"
                )
            elif values["niko"] and not seen[2]:
                schools[school_key] = (*seen[:2], True)
            first_line.setdefault(muni_key, line)
            first_line.setdefault(school_key, line)
        for reason in errors:
            plan.errors.append([line, reason])
    if plan.errors:
        return plan
    _compare(plan, municipalities, schools, {region for region, _ in municipalities})
    return plan


def _compare(plan, municipalities, schools, regions):
    """Fill the plan with what differs from the database."""
    existing = {
        (region, code): name
        for region, code, name in Municipality.objects.filter(region_id__in=regions).values_list(
            "region_id", "code", "name"
        )
    }
    for key, name in municipalities.items():
        old = existing.get(key)
        if old == name:
            plan.counts["municipalities"]["unchanged"] += 1
            continue
        plan.municipalities[key] = name
        if old is None:
            plan.counts["municipalities"]["created"] += 1
            plan._note(f"Новый муниципалитет {key[0]}/{key[1]} «{name}»")
        else:
            plan.counts["municipalities"]["changed"] += 1
            plan._note(f"Муниципалитет {key[0]}/{key[1]}: «{old}» → «{name}»")

    existing = {
        (region, code): (name, muni or "")
        for region, code, name, muni in School.objects.filter(region_id__in=regions).values_list(
            "region_id", "code", "name", "municipality__code"
        )
    }
    for key, (name, muni, _niko) in schools.items():
        old = existing.get(key)
        if old == (name, muni):
            plan.counts["schools"]["unchanged"] += 1
            continue
        plan.schools[key] = (name, muni)
        if old is None:
            plan.counts["schools"]["created"] += 1
            plan._note(f"Новая ОО {key[0]}{key[1]} «{name}»")
        else:
            plan.counts["schools"]["changed"] += 1
            what = f"«{old[0]}» → «{name}»" if old[0] != name else f"муниципалитет {old[1] or '—'} → {muni}"
            plan._note(f"ОО {key[0]}{key[1]}: {what}")

    wanted = [f"reg{region}_vpr_m{code}" for region, code in municipalities]
    for (region, code), (_name, _muni, niko) in schools.items():
        wanted.append(f"sch{region}{code}")
        if niko:
            wanted.append(f"edu{region}{code}")
    have = set(
        User.objects.filter(region_id__in=regions, role__in=IMPORTED_ROLES).values_list("username", flat=True)
    )
    plan.logins = [login for login in wanted if login not in have]
    plan.counts["accounts"]["created"] = len(plan.logins)
    plan.counts["accounts"]["unchanged"] = len(wanted) - len(plan.logins)
    for login in plan.logins[: max(0, SAMPLE_SIZE - len(plan.sample))]:
        plan._note(f"Новая учётная запись {login} (без пароля)")


def directory_apply(*, plan, progress=None):
    """Write a plan without errors in batches of upserts by code; ``progress(done, total)`` after each."""
    total = len(plan.municipalities) + len(plan.schools) + len(plan.logins) or 1
    done = 0

    def step(count):
        nonlocal done
        done += count
        if progress:
            progress(done, total)

    items = list(plan.municipalities.items())
    for start in range(0, len(items), BATCH_SIZE):
        batch = [
            Municipality(region_id=r, code=c, name=name) for (r, c), name in items[start : start + BATCH_SIZE]
        ]
        Municipality.objects.bulk_create(
            batch, update_conflicts=True, unique_fields=["region", "code"], update_fields=["name"]
        )
        step(len(batch))

    regions = {region for region, _ in plan.schools}
    municipality_ids = {
        (region, code): pk
        for region, code, pk in Municipality.objects.filter(region_id__in=regions).values_list(
            "region_id", "code", "pk"
        )
    }
    items = list(plan.schools.items())
    for start in range(0, len(items), BATCH_SIZE):
        batch = [
            School(region_id=r, code=c, name=name, municipality_id=municipality_ids[(r, muni)])
            for (r, c), (name, muni) in items[start : start + BATCH_SIZE]
        ]
        School.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["region", "code"],
            update_fields=["name", "municipality"],
        )
        step(len(batch))

    now = timezone.now()
    for start in range(0, len(plan.logins), BATCH_SIZE):
        batch = [_new_account(login, now) for login in plan.logins[start : start + BATCH_SIZE]]
        User.objects.bulk_create(batch, ignore_conflicts=True)  # a login made meanwhile is kept as it is
        step(len(batch))


def _new_account(login, now):
    """An account without a usable password, classified as ``User.apply_login`` would.

    bulk_create skips save(), so the login is parsed here.
    """
    info = parse_login(login)
    return User(
        username=login,
        # What set_unusable_password() stores, without its 40 random choices per account.
        password=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30),
        role=info.role.value,
        region_id=info.region_code,
        municipality_code=info.municipality_code,
        school_code=info.school_code,
        date_joined=now,
    )


def import_preview(*, file, size, name, by=None, store=True):
    """Record an upload with its preview (or the reason it is refused); return the DirectoryImport.

    ``store`` keeps the file for the confirm (the admin); the command reads its own copy.
    """
    checksum = checksum_of(file)
    directory_import = DirectoryImport(created_by=by, file_name=name[:255], checksum=checksum)
    try:
        plan = directory_plan(file=file, size=size)
    except FileRefused as refusal:
        directory_import.status = DirectoryImport.Status.REFUSED
        directory_import.message = str(refusal)
    else:
        directory_import.preview = plan.summary()
        if plan.errors:
            directory_import.status = DirectoryImport.Status.REFUSED
            directory_import.message = (
                f"В файле {len(plan.errors)} ошибок: файл не принят, ничего не записано."
            )
        elif store:
            file.seek(0)
            directory_import.file.save(f"{checksum}.upload", file, save=False)
    directory_import.save()
    return directory_import


def import_start(*, directory_import):
    """Mark a previewed import running, or raise ImportBusy while another one runs."""
    DirectoryImport.objects.filter(
        status=DirectoryImport.Status.RUNNING, updated_at__lt=timezone.now() - STALE_AFTER
    ).update(status=DirectoryImport.Status.FAILED, message="Прервано: обработчик перестал отвечать.")
    try:
        with transaction.atomic():
            started = DirectoryImport.objects.filter(
                pk=directory_import.pk, status=DirectoryImport.Status.PREVIEW
            ).update(status=DirectoryImport.Status.RUNNING, started_at=timezone.now(), progress=0)
    except IntegrityError:
        running = DirectoryImport.objects.filter(status=DirectoryImport.Status.RUNNING).first()
        raise ImportBusy(
            f"Сейчас выполняется другой импорт справочника (№ {running.pk if running else '?'}, "
            f"файл «{running.file_name if running else ''}»). Дождитесь его окончания и подтвердите снова."
        ) from None
    if not started:
        raise ImportBusy("Этот импорт уже подтверждён или не прошёл проверку.")
    directory_import.refresh_from_db()


def import_run(*, import_id, file=None, size=None):
    """Write a running import; the stored file (or ``file``, from the command) must match its checksum.

    Run again after a crash (the task is redelivered), it plans only what is still missing.
    """
    directory_import = DirectoryImport.objects.get(pk=import_id)
    if directory_import.status != DirectoryImport.Status.RUNNING:
        return directory_import
    first_run = directory_import.progress == 0
    try:
        if file is None:
            file = directory_import.file.open("rb")
            size = directory_import.file.size
        if checksum_of(file) != directory_import.checksum:
            return _finish(
                directory_import, failed="Файл изменился после предпросмотра: загрузите его заново."
            )
        plan = directory_plan(file=file, size=size)
        if plan.errors:
            return _finish(
                directory_import, failed="В файле есть ошибки: импорт не выполнен.", report=plan.summary()
            )
        if first_run and directory_import.preview and plan.counts != directory_import.preview.get("counts"):
            return _finish(
                directory_import,
                failed="Справочник изменился после предпросмотра: загрузите файл заново "
                "и проверьте новый предпросмотр.",
            )

        def progress(done, total):
            DirectoryImport.objects.filter(pk=import_id).update(
                progress=max(1, min(99, done * 100 // total)), updated_at=timezone.now()
            )

        directory_apply(plan=plan, progress=progress)
    except FileRefused as refusal:
        return _finish(directory_import, failed=str(refusal))
    report = {"counts": plan.counts, "refused": 0, "rows": plan.rows}
    return _finish(directory_import, report=report)


def _finish(directory_import, *, failed="", report=None):
    directory_import.status = DirectoryImport.Status.FAILED if failed else DirectoryImport.Status.DONE
    directory_import.message = failed
    directory_import.progress = directory_import.progress if failed else 100
    directory_import.report = report or {}
    directory_import.finished_at = timezone.now()
    directory_import.save()
    return directory_import
