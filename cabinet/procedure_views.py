"""The procedure tabs' pages: plan-schedule, the school's application, archives and documents,
«Ход работы ОО». The rules (who may see or change what, and when) are in ``procedures``."""

from dataclasses import dataclass, field

from django.contrib import messages
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from procedures import archives, progress, selectors, services
from procedures.forms import lines_from_application, parse_application
from procedures.progress_views import query_string

from .views import _page, _render, cabinet_user_required


@dataclass
class Panel:
    """One procedure as its tab shows it to one user."""

    procedure: object
    plan: list
    application_url: str = ""
    application_state: str = ""
    lines: list = field(default_factory=list)
    materials: list = field(default_factory=list)
    progress_url: str = ""
    notice: str = ""


def procedure_panels(user, slug):
    now = timezone.now()
    school = selectors.school_of(user) if selectors.is_school(user) else None
    panels = []
    for procedure in selectors.procedures_for_tab(slug):
        panel = Panel(procedure=procedure, plan=selectors.plan_schedule(procedure, user, now))
        if selectors.is_school(user) and school is None:
            panel.notice = (
                "Вашей организации нет в справочнике ОО, поэтому подать заявку нельзя: "
                "обратитесь к региональному координатору."
            )
        elif selectors.is_school(user):
            panel.application_url = reverse("cabinet:application", args=[procedure.pk])
            panel.lines = list(selectors.applied_works(procedure, school)) if school else []
            total = sum(line.participants for line in panel.lines)
            panel.application_state = (
                f"подана: работ {len(panel.lines)}, участников {total}" if panel.lines else "не подана"
            )
            panel.materials = list(
                selectors.released_materials(
                    procedure, work_ids=[line.work_id for line in panel.lines], now=now
                )
            )
        else:
            panel.progress_url = reverse("cabinet:progress", args=[procedure.pk])
            panel.materials = list(selectors.released_materials(procedure, now=now))
        panels.append(panel)
    return panels


def _application_page(request, procedure, school, back_url):
    """Show and save one school's application (for the school itself or its coordinator)."""
    works = list(procedure.works.all())
    window = selectors.application_window(procedure, request.user)
    application = selectors.application_of(procedure, school)
    version = application.version if application else 0
    lines, errors, status = lines_from_application(works, application), [], 200
    if request.method == "POST":
        if not window.editable:
            errors, status = [window.message, "Изменения не сохранены."], 403
        else:
            rows, posted_version, lines, errors = parse_application(request.POST, works)
            if not errors and not any(line.error for line in lines):
                try:
                    services.application_save(
                        procedure=procedure, school=school, by=request.user, rows=rows, version=posted_version
                    )
                except services.StaleApplication:
                    status = 409
                    errors = [
                        "Заявка изменилась, пока вы её редактировали: ниже — её текущее состояние и кто её "
                        "изменил. Ваши изменения не сохранены; внесите их снова и сохраните."
                    ]
                    application = selectors.application_of(procedure, school)
                    version = application.version
                    lines = lines_from_application(works, application)
                else:
                    messages.success(request, "Заявка сохранена.")
                    return redirect(request.path)
    return _render(
        request,
        "cabinet/application.html",
        procedure.kind,
        procedure=procedure,
        school=school,
        window=window,
        lines=lines,
        errors=errors,
        version=version,
        changes=list(application.changes.all()) if application else [],
        back_url=back_url,
        status=status,
    )


@cabinet_user_required
def application(request, pk):
    if not selectors.is_school(request.user):
        raise Http404
    procedure = selectors.procedure_for(request.user, pk, "stages", "works")
    school = selectors.school_of(request.user)
    if procedure is None or school is None:
        raise Http404
    return _application_page(request, procedure, school, reverse("cabinet:tab", args=[procedure.kind]))


@cabinet_user_required
def school_application(request, pk, school_pk):
    if not selectors.is_coordinator(request.user):
        raise Http404
    procedure = selectors.procedure_for(request.user, pk, "stages", "works")
    if procedure is None:
        raise Http404
    school = get_object_or_404(selectors.schools_of_area(request.user), pk=school_pk)
    return _application_page(request, procedure, school, reverse("cabinet:progress", args=[procedure.pk]))


@cabinet_user_required
def archive(request, work_pk):
    """The school's archive of a work it applied for, once released; 404 otherwise, by URL too."""
    if not selectors.is_school(request.user):
        raise Http404
    line = selectors.archive_line_for(request.user, work_pk)
    if line is None:
        raise Http404
    school = line.application.school
    try:
        codes = services.archive_download(user=request.user, line=line)
    except services.CodesExhausted:
        messages.error(
            request, "Коды участников для этой работы исчерпаны: обратитесь в техническую поддержку."
        )
        return redirect("cabinet:tab", line.work.procedure.kind)
    response = StreamingHttpResponse(
        archives.school_archive(work=line.work, school=school, codes=codes), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{archives.archive_name(line.work, school)}"'
    return response


@cabinet_user_required
def material(request, pk):
    found = selectors.material_for(request.user, pk)
    if found is None:
        raise Http404
    try:
        handle = found.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    school = selectors.school_of(request.user) if selectors.is_school(request.user) else None
    services.material_download(user=request.user, material=found, school=school)
    return FileResponse(handle, as_attachment=True, filename=found.filename)


def _progress_procedure(request, pk):
    if not selectors.is_coordinator(request.user):
        raise Http404
    procedure = selectors.procedure_for(request.user, pk, "works")
    if procedure is None:
        raise Http404
    return procedure


@cabinet_user_required
def progress_page(request, pk):
    procedure = _progress_procedure(request, pk)
    table = progress.ProgressTable(procedure, selectors.schools_of_area(request.user), request.GET)
    page = _page(request, table.rows_queryset(), per_page=50)
    return _render(
        request,
        "cabinet/progress.html",
        procedure.kind,
        procedure=procedure,
        table=table,
        page=page,
        rows=table.rows(page),
        totals=table.totals(),
        xlsx_url=reverse("cabinet:progress_xlsx", args=[procedure.pk]),
        application_url_name="cabinet:school_application",
        query_string=query_string(request.GET),
    )


@cabinet_user_required
def progress_xlsx(request, pk):
    procedure = _progress_procedure(request, pk)
    table = progress.ProgressTable(procedure, selectors.schools_of_area(request.user), request.GET)
    return progress.xlsx_response(table, f"hod-raboty-oo-{procedure.year}-{request.user.region_id}.xlsx")
