"""The school's results pages: «Форма сбора результатов» and «Загрузить результаты» (SPEC §8).
The rules are in ``results``; which school may reach which work is ``procedures.selectors``'."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from procedures import archives
from procedures import selectors as procedure_selectors
from results import selectors, services, sheets

from .views import _render, cabinet_user_required


def _line(request, work_pk):
    """The school's application line of a released work it applied for; 404 for anything else."""
    line = procedure_selectors.archive_line_for(request.user, work_pk)
    if line is None:
        raise Http404
    return line


@cabinet_user_required
def results_form(request, work_pk):
    line = _line(request, work_pk)
    work, school = line.work, line.application.school
    codes = services.form_download(user=request.user, line=line)
    data = sheets.form_workbook(
        work=work,
        school=school,
        codes=codes,
        variants=archives.variants_for(school, list(work.variants.all())),
        tasks=list(work.tasks.all()),
    )
    response = HttpResponse(data, content_type=sheets.XLSX)
    response["Content-Disposition"] = f'attachment; filename="{sheets.form_name(work, school)}"'
    return response


@cabinet_user_required
def results_upload(request, work_pk):
    line = _line(request, work_pk)
    work, school = line.work, line.application.school
    window = selectors.upload_window(work)
    refusal, status = None, 200
    if request.method == "POST":
        uploaded = request.FILES.get("file")
        if not window.open:
            refusal, status = sheets.FormRefused([window.message]), 403
        elif uploaded is None:
            refusal, status = sheets.FormRefused(["Выберите файл с заполненной формой (.xlsx)."]), 400
        else:
            try:
                outcome = services.results_upload(user=request.user, line=line, uploaded=uploaded)
            except sheets.FormRefused as error:
                refusal, status = error, 400
            else:
                messages.success(
                    request,
                    f"Результаты приняты: выполняли работу {outcome.taken}, отсутствовали {outcome.absent}. "
                    "Прежняя загрузка (если была) заменена.",
                )
                return redirect("cabinet:results_upload", work.pk)
    return _render(
        request,
        "cabinet/results_upload.html",
        work.procedure.kind,
        work=work,
        school=school,
        window=window,
        refusal=refusal,
        summary=selectors.summary_of(work, school),
        form_url=reverse("cabinet:results_form", args=[work.pk]),
        back_url=reverse("cabinet:tab", args=[work.procedure.kind]),
        status=status,
    )
