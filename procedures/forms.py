"""The application form: one line per work of the procedure (take it, participants, day)."""

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.formats import date_format

from .models import MAX_PARTICIPANTS, MIN_PARTICIPANTS

FIELD_RE = re.compile(r"work-(?P<id>[0-9]+)-(?:take|participants|day)")


@dataclass
class Line:
    work: object
    taken: bool
    participants: str
    day: str
    error: str = ""
    downloaded_at: object = None

    @property
    def field(self):
        return f"work-{self.work.pk}"


def lines_from_application(works, application):
    by_work = {aw.work_id: aw for aw in application.works.all()} if application else {}
    lines = []
    for work in works:
        aw = by_work.get(work.pk)
        lines.append(
            Line(
                work=work,
                taken=aw is not None,
                participants=str(aw.participants) if aw else "",
                day=aw.day.isoformat() if aw else "",
                downloaded_at=aw.archive_downloaded_at if aw else None,
            )
        )
    return lines


def _d(day):
    return date_format(day, "d.m.Y")


def parse_application(data, works):
    """Check a posted form against the procedure's ``works``.

    Returns (rows, version, lines, errors): ``rows`` maps each taken work to (participants, day);
    ``lines`` carry what was posted and each line's error for the page; ``errors`` the messages
    that are not about one line (a work of another procedure, a forged version).
    """
    by_id = {str(w.pk): w for w in works}
    errors = []
    foreign = sorted(
        {m["id"] for key in data if (m := FIELD_RE.fullmatch(key)) and m["id"] not in by_id}, key=int
    )
    if foreign:
        errors.append("В заявке есть работы, которых нет в этой процедуре: заявка не сохранена.")
    try:
        version = int(data.get("version", ""))
    except ValueError:
        version = None
    if version is None or version < 0:
        errors.append("Форма повреждена: откройте заявку заново.")
    rows, lines = {}, []
    for work in works:
        prefix = f"work-{work.pk}"
        line = Line(
            work=work,
            taken=data.get(f"{prefix}-take") == "on",
            participants=data.get(f"{prefix}-participants", "").strip()[:10],
            day=data.get(f"{prefix}-day", "").strip()[:20],
        )
        lines.append(line)
        if not line.taken:
            continue
        participants = int(line.participants) if re.fullmatch(r"[0-9]{1,4}", line.participants) else None
        if participants is None or not MIN_PARTICIPANTS <= participants <= MAX_PARTICIPANTS:
            line.error = f"Число участников — целое число от {MIN_PARTICIPANTS} до {MAX_PARTICIPANTS}."
            continue
        try:
            day = dt.date.fromisoformat(line.day)
        except ValueError:
            day = None
        if day is None or not work.held_from <= day <= work.held_until:
            line.error = f"Дата проведения — день с {_d(work.held_from)} по {_d(work.held_until)}."
            continue
        rows[work] = (participants, day)
    return rows, version, lines, errors
