"""«Ход работы ОО»: one row per school of an area with its application, archives downloaded and
results uploaded, its filters and totals, and the same table as .xlsx.

A page costs a fixed number of queries whatever the area's size: the count, the page of schools,
their application lines, and two for the totals. Whether a school downloaded a work's archive or
uploaded its results is read from ``ApplicationWork.archive_downloaded_at`` and
``results_uploaded_at``, which the download and upload services stamp, not from the millions of
download records or from the uploads' table.
"""

import re
import tempfile
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q
from django.http import FileResponse
from django.utils import timezone
from openpyxl import Workbook

from .models import ApplicationWork

FILTERS = {
    "": "Все ОО",
    "no_application": "не подали заявку",
    "no_archive": "не скачали архив",
    "no_results": "не загрузили результаты",
}


@dataclass
class Cell:
    work: object
    applied: bool = False
    participants: int = 0
    downloaded_at: object = None
    uploaded_at: object = None


@dataclass
class Row:
    school: object
    cells: list = field(default_factory=list)

    @property
    def applied(self):
        return any(c.applied for c in self.cells)

    @property
    def participants(self):
        return sum(c.participants for c in self.cells)

    @property
    def works_applied(self):
        return sum(c.applied for c in self.cells)


class ProgressTable:
    def __init__(self, procedure, schools, params):
        self.procedure = procedure
        self.all_works = list(procedure.works.all())
        self.filter = params.get("filter", "") if params.get("filter", "") in FILTERS else ""
        self.query = params.get("q", "").strip()[:100]
        work_id = params.get("work", "")
        self.work = next((w for w in self.all_works if str(w.pk) == work_id), None)
        self.works = [self.work] if self.work else self.all_works
        self.area = schools
        self.filters = FILTERS

    # --- conditions, each a subquery on the school row (OuterRef("pk")) ---

    def _lines(self):
        lines = ApplicationWork.objects.filter(
            application__procedure=self.procedure, application__school=OuterRef("pk")
        )
        return lines.filter(work=self.work) if self.work else lines

    def _applied(self):
        return Exists(self._lines())

    def _missing_archive(self):
        return Exists(self._lines().filter(archive_downloaded_at=None))

    def _missing_results(self):
        return Exists(self._lines().filter(results_uploaded_at=None))

    def rows_queryset(self):
        schools = self.area.select_related("municipality").order_by("region_id", "code")
        if self.query:
            match = Q(name__icontains=self.query)
            if re.fullmatch(r"[0-9]{1,8}", self.query):
                match |= Q(code__startswith=self.query)
                if len(self.query) > 2:
                    match |= Q(region_id=self.query[:2], code__startswith=self.query[2:])
            schools = schools.filter(match)
        if self.filter == "no_application":
            schools = schools.filter(~self._applied())
        elif self.filter == "no_archive":
            schools = schools.filter(self._missing_archive())
        elif self.filter == "no_results":
            schools = schools.filter(self._missing_results())
        return schools

    def totals(self):
        """Counts over the whole area (not the filter or the search), in two queries: the schools,
        and one pass over the area's application lines grouped by application."""
        schools = self.area.order_by().count()
        lines = ApplicationWork.objects.filter(
            application__procedure=self.procedure, application__school__in=self.area.order_by().values("pk")
        )
        if self.work:
            lines = lines.filter(work=self.work)
        counts = (
            lines.values("application_id")
            .annotate(
                no_archive=Count("pk", filter=Q(archive_downloaded_at=None)),
                no_results=Count("pk", filter=Q(results_uploaded_at=None)),
            )
            .aggregate(
                applied=Count("application_id"),
                downloaded=Count("application_id", filter=Q(no_archive=0)),
                uploaded=Count("application_id", filter=Q(no_results=0)),
            )
        )
        return [
            ("Подали заявку", counts["applied"], schools),
            ("Скачали архив", counts["downloaded"], counts["applied"]),
            ("Загрузили результаты", counts["uploaded"], counts["applied"]),
        ]

    def rows(self, schools):
        """Rows for a page (or chunk) of schools: one query, however many works."""
        schools = list(schools)
        ids = [s.pk for s in schools]
        work_ids = [w.pk for w in self.works]
        lines = ApplicationWork.objects.filter(
            application__procedure=self.procedure, application__school__in=ids, work__in=work_ids
        ).values_list(
            "application__school_id",
            "work_id",
            "participants",
            "archive_downloaded_at",
            "results_uploaded_at",
        )
        by_key = {(s, w): (n, downloaded, uploaded) for s, w, n, downloaded, uploaded in lines}
        result = []
        for school in schools:
            cells = []
            for work in self.works:
                line = by_key.get((school.pk, work.pk))
                cells.append(
                    Cell(
                        work=work,
                        applied=line is not None,
                        participants=line[0] if line else 0,
                        downloaded_at=line[1] if line else None,
                        uploaded_at=line[2] if line else None,
                    )
                )
            result.append(Row(school=school, cells=cells))
        return result

    def iter_rows(self, chunk=1000):
        """Every row of the filtered table, a chunk of schools at a time (for the .xlsx)."""
        schools = self.rows_queryset()
        last = None
        while True:
            page = schools
            if last is not None:
                page = page.filter(Q(region_id__gt=last[0]) | Q(region_id=last[0], code__gt=last[1]))
            page = list(page[:chunk])
            if not page:
                return
            yield from self.rows(page)
            last = (page[-1].region_id, page[-1].code)


def _when(moment):
    return timezone.localtime(moment).replace(tzinfo=None) if moment else None


def xlsx_response(table, filename):
    """The filtered table as .xlsx, written row by row (openpyxl's write-only mode keeps rows in a
    temporary file, not in memory) and sent from a temporary file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Ход работы ОО")
    header = ["Код ОО", "Наименование ОО", "Муниципалитет", "Заявка", "Участников"]
    for work in table.works:
        header += [f"{work.code}: архив скачан", f"{work.code}: результаты загружены"]
    sheet.append(header)
    for row in table.iter_rows():
        school = row.school
        values = [
            f"{school.region_id}{school.code}",
            school.name,
            school.municipality.name if school.municipality else "",
            "подана" if row.applied else "не подана",
            row.participants,
        ]
        for cell in row.cells:
            if not cell.applied:
                values += ["не заявлена", ""]
            else:
                values += [_when(cell.downloaded_at) or "нет", _when(cell.uploaded_at) or "нет"]
        sheet.append(values)
    handle = tempfile.TemporaryFile()
    book.save(handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
