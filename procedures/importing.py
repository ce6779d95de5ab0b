"""Load a procedure from the JSON file of SPEC §7; the admin and ``import_procedure`` both call
``procedure_import``.

The whole file is checked before anything is written, and every error is collected with the path
of the value it is about («works[2].tasks[4].max: …»), so a coordinator of the import fixes the
file in one pass. A re-import of the same title and year updates the procedure in place: stages
are replaced, works are matched by code and tasks by label, so the schools' applications,
downloads and uploads (which point at works) stay.
"""

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .models import (
    ApplicationWork,
    ArchiveDownload,
    Kind,
    Procedure,
    ResultUpload,
    Stage,
    StageRole,
    Task,
    Work,
)

MAX_FILE_BYTES = 2 * 1024 * 1024
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
ROOT_KEYS = {"kind", "title", "year", "stages", "works"}
STAGE_KEYS = {"title", "role", "starts", "ends"}
WORK_KEYS = {
    "code",
    "subject",
    "grade",
    "held_from",
    "held_until",
    "materials_at",
    "results_from",
    "results_until",
    "tasks",
    "scale",
}
TASK_KEYS = {"label", "max"}


class ProcedureFileError(Exception):
    """The file was refused; ``errors`` lists every reason, in Russian, each with its path."""

    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class ImportResult:
    procedure: Procedure
    created: bool
    works_created: list = field(default_factory=list)
    works_updated: list = field(default_factory=list)
    works_deleted: list = field(default_factory=list)

    def summary(self):
        verb = "создана" if self.created else "обновлена"
        parts = [f"Процедура «{self.procedure.title}» ({self.procedure.year}) {verb}"]
        if self.works_created:
            parts.append(f"новых работ: {len(self.works_created)}")
        if self.works_updated:
            parts.append(f"обновлено работ: {len(self.works_updated)}")
        if self.works_deleted:
            parts.append(f"удалено работ: {len(self.works_deleted)}")
        return ", ".join(parts) + "."


def _moscow(day, end=False):
    moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
    return timezone.make_aware(moment, timezone.get_default_timezone())


class _Checker:
    def __init__(self):
        self.errors = []

    def error(self, path, message):
        self.errors.append(f"{path}: {message}" if path else message)

    def obj(self, value, path, keys, required):
        if not isinstance(value, dict):
            self.error(path, "должен быть объектом {…}")
            return None
        for key in sorted(set(value) - keys):
            self.error(f"{path}.{key}" if path else key, "неизвестное поле")
        for key in sorted(required - set(value)):
            self.error(f"{path}.{key}" if path else key, "обязательное поле отсутствует")
        return value

    def text(self, value, path, max_length):
        if not isinstance(value, str) or not value.strip():
            self.error(path, "должно быть непустой строкой")
            return None
        if len(value.strip()) > max_length:
            self.error(path, f"не длиннее {max_length} символов")
            return None
        return value.strip()

    def integer(self, value, path, low, high):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(path, f"должно быть целым числом от {low} до {high}")
            return None
        return value

    def choice(self, value, path, choices):
        if value not in choices.values:
            self.error(path, f"должно быть одним из: {', '.join(choices.values)}")
            return None
        return value

    def date(self, value, path):
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.error(path, "должно быть датой в виде ГГГГ-ММ-ДД")
        return None

    def moment(self, value, path, end=False):
        """A date (the whole day, Moscow time) or a date and time with its offset."""
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = self.date(value, path)
            return day and _moscow(day, end)
        if isinstance(value, str) and "T" in value:
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is not None:
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment, timezone.get_default_timezone())
                return moment
        self.error(path, "должно быть датой ГГГГ-ММ-ДД или датой и временем ГГГГ-ММ-ДДTЧЧ:ММ:СС+03:00")
        return None

    def array(self, value, path):
        if not isinstance(value, list) or not value:
            self.error(path, "должен быть непустым списком […]")
            return []
        return value


def parse(data):
    """Check the decoded JSON; return a clean dict or raise ``ProcedureFileError`` with every error."""
    c = _Checker()
    root = c.obj(data, "", ROOT_KEYS, ROOT_KEYS)
    if root is None:
        raise ProcedureFileError(c.errors)
    clean = {
        "kind": c.choice(root.get("kind"), "kind", Kind) if "kind" in root else None,
        "title": c.text(root.get("title"), "title", 300) if "title" in root else None,
        "year": c.integer(root.get("year"), "year", 2000, 2100) if "year" in root else None,
        "stages": [],
        "works": [],
    }
    for i, raw in enumerate(c.array(root.get("stages"), "stages") if "stages" in root else []):
        path = f"stages[{i}]"
        stage = c.obj(raw, path, STAGE_KEYS, STAGE_KEYS)
        if stage is None:
            continue
        item = {
            "title": c.text(stage.get("title"), f"{path}.title", 300),
            "role": c.choice(stage.get("role"), f"{path}.role", StageRole),
            "starts": c.moment(stage.get("starts"), f"{path}.starts"),
            "ends": c.moment(stage.get("ends"), f"{path}.ends", end=True),
        }
        if item["starts"] and item["ends"] and item["ends"] < item["starts"]:
            c.error(f"{path}.ends", "окончание этапа раньше его начала")
        clean["stages"].append(item)
    codes = set()
    for i, raw in enumerate(c.array(root.get("works"), "works") if "works" in root else []):
        path = f"works[{i}]"
        work = c.obj(raw, path, WORK_KEYS, WORK_KEYS)
        if work is None:
            continue
        code = work.get("code")
        if not isinstance(code, str) or not CODE_RE.fullmatch(code):
            c.error(f"{path}.code", "должен состоять из 1–20 латинских букв, цифр, «_» или «-»")
        elif code in codes:
            c.error(f"{path}.code", f"код «{code}» уже встречался в списке работ")
        codes.add(code)
        item = {
            "code": code,
            "subject": c.text(work.get("subject"), f"{path}.subject", 200),
            "grade": c.integer(work.get("grade"), f"{path}.grade", 1, 11),
            "held_from": c.date(work.get("held_from"), f"{path}.held_from"),
            "held_until": c.date(work.get("held_until"), f"{path}.held_until"),
            "materials_at": c.moment(work.get("materials_at"), f"{path}.materials_at"),
            "results_from": c.date(work.get("results_from"), f"{path}.results_from"),
            "results_until": c.date(work.get("results_until"), f"{path}.results_until"),
            "tasks": [],
        }
        for start, end in [("held_from", "held_until"), ("results_from", "results_until")]:
            if item[start] and item[end] and item[end] < item[start]:
                c.error(f"{path}.{end}", f"раньше, чем {start}")
        labels = set()
        for j, raw_task in enumerate(c.array(work.get("tasks"), f"{path}.tasks") if "tasks" in work else []):
            task_path = f"{path}.tasks[{j}]"
            task = c.obj(raw_task, task_path, TASK_KEYS, TASK_KEYS)
            if task is None:
                continue
            label = c.text(task.get("label"), f"{task_path}.label", 20)
            if label in labels:
                c.error(f"{task_path}.label", f"задание «{label}» уже встречалось в этой работе")
            labels.add(label)
            item["tasks"].append(
                {"label": label, "max": c.integer(task.get("max"), f"{task_path}.max", 1, 100)}
            )
        scale = work.get("scale")
        if "scale" in work:
            if (
                not isinstance(scale, list)
                or len(scale) != 3
                or any(isinstance(v, bool) or not isinstance(v, int) for v in scale)
            ):
                c.error(f"{path}.scale", "должна быть списком из трёх целых чисел — баллов на «3», «4» и «5»")
            elif not 0 < scale[0] < scale[1] < scale[2]:
                c.error(f"{path}.scale", "баллы на «3», «4» и «5» должны быть больше нуля и возрастать")
            else:
                total = sum(t["max"] or 0 for t in item["tasks"])
                if all(t["max"] for t in item["tasks"]) and scale[2] > total:
                    c.error(f"{path}.scale", f"балл на «5» ({scale[2]}) больше максимума за работу ({total})")
                item["scale"] = scale
        clean["works"].append(item)
    if c.errors:
        raise ProcedureFileError(c.errors)
    return clean


def _decode(content):
    if len(content) > MAX_FILE_BYTES:
        raise ProcedureFileError([f"Файл больше {MAX_FILE_BYTES // 1024 // 1024} МБ."])
    try:
        return json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ProcedureFileError(["Файл не в кодировке UTF-8."]) from None
    except json.JSONDecodeError as error:
        raise ProcedureFileError(
            [f"Файл не является JSON: строка {error.lineno}, столбец {error.colno}: {error.msg}."]
        ) from None


def procedure_import(*, content: bytes) -> ImportResult:
    """Create or update the procedure the file describes; raise ``ProcedureFileError`` and change nothing
    when anything in it is wrong."""
    clean = parse(_decode(content))
    with transaction.atomic():
        procedure, created = Procedure.objects.select_for_update().get_or_create(
            title=clean["title"], year=clean["year"], defaults={"kind": clean["kind"]}
        )
        errors = []
        existing = {w.code: w for w in procedure.works.all()}
        removed = [w for code, w in existing.items() if code not in {i["code"] for i in clean["works"]}]
        for work in removed:
            if _has_school_data(work):
                errors.append(
                    f"works: работы «{work.code}» нет в файле, но по ней уже есть заявки, скачивания "
                    "или результаты школ — её нельзя удалить"
                )
        for i, item in enumerate(clean["works"]):
            work = existing.get(item["code"])
            if work is None or not ResultUpload.objects.filter(work=work).exists():
                continue
            gone = set(work.tasks.values_list("label", flat=True)) - {t["label"] for t in item["tasks"]}
            if gone:
                errors.append(
                    f"works[{i}].tasks: школы уже загрузили результаты, задания "
                    f"{', '.join(sorted(gone))} нельзя удалить"
                )
        if errors:
            raise ProcedureFileError(errors)

        procedure.kind = clean["kind"]
        procedure.save()
        procedure.stages.all().delete()
        Stage.objects.bulk_create(
            Stage(procedure=procedure, order=n, **stage) for n, stage in enumerate(clean["stages"])
        )
        result = ImportResult(procedure=procedure, created=created)
        for work in removed:
            work.delete()
            result.works_deleted.append(work.code)
        for item in clean["works"]:
            tasks, scale = item.pop("tasks"), item.pop("scale")
            values = {**item, "scale_3": scale[0], "scale_4": scale[1], "scale_5": scale[2]}
            work = existing.get(item["code"])
            if work is None:
                work = Work.objects.create(procedure=procedure, **values)
                result.works_created.append(work.code)
            else:
                for name, value in values.items():
                    setattr(work, name, value)
                work.save()
                result.works_updated.append(work.code)
            _sync_tasks(work, tasks)
    return result


def _has_school_data(work):
    return (
        ApplicationWork.objects.filter(work=work).exists()
        or ArchiveDownload.objects.filter(work=work).exists()
        or ResultUpload.objects.filter(work=work).exists()
    )


def _sync_tasks(work, tasks):
    current = {t.label: t for t in work.tasks.all()}
    work.tasks.exclude(label__in=[t["label"] for t in tasks]).delete()
    for order, item in enumerate(tasks):
        task = current.get(item["label"])
        if task is None:
            Task.objects.create(work=work, label=item["label"], max=item["max"], order=order)
        elif (task.max, task.order) != (item["max"], order):
            task.max, task.order = item["max"], order
            task.save(update_fields=["max", "order"])
