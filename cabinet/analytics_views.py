"""The «Аналитика» tab: a work's reports for the groups the user may see, a coordinator's schools
side by side and «Признаки необъективности», each also as .xlsx. The figures are
``results.reports``'; who sees which schools is ``procedures.selectors``'."""

from dataclasses import dataclass

from django.http import FileResponse, Http404

from procedures import selectors as procedure_selectors
from results import charts, reports, selectors, sheets

from .models import Tab
from .selectors import materials_for_tab
from .tabs import material_tabs
from .views import _page, _render, cabinet_user_required


@dataclass
class Choice:
    works: list
    work: object
    school: object = None
    notice: str = ""


def _choice(request):
    """The works the user may read and the chosen one (``?work=``, else the newest first)."""
    user = request.user
    if Tab.ANALYTICS not in material_tabs(user.role):
        raise Http404
    works = list(selectors.works_for(user))
    wanted = request.GET.get("work", "")
    work = next((w for w in works if str(w.pk) == wanted), works[0] if works else None)
    choice = Choice(works=works, work=work)
    if procedure_selectors.is_school(user):
        choice.school = procedure_selectors.school_of(user)
        if choice.school is None:
            choice.notice = (
                "Вашей организации нет в справочнике ОО, поэтому её результатов здесь нет: "
                "обратитесь к региональному координатору."
            )
    return choice


def _figures(request, choice):
    tasks = list(choice.work.tasks.all())
    groups = reports.groups_for(request.user, choice.school)
    return tasks, reports.figures_of(choice.work, groups, tasks)


def _tables(tasks, figures):
    return [
        reports.marks_table(figures),
        reports.scores_table(figures),
        reports.tasks_table(figures, tasks),
        reports.journal_table(figures),
    ]


@cabinet_user_required
def analytics(request):
    choice = _choice(request)
    context = {"choice": choice, "is_coordinator": procedure_selectors.is_coordinator(request.user)}
    if choice.work is not None:
        tasks, figures = _figures(request, choice)
        tables = _tables(tasks, figures)
        context.update(
            tables=tables,
            chart=charts.histogram_svg(figures, "Распределение первичных баллов"),
            legend=charts.legend(figures),
            uploaded=figures[-1].schools,
        )
    return _render(
        request,
        "cabinet/analytics.html",
        Tab.ANALYTICS,
        materials=_page(request, materials_for_tab(request.user, Tab.ANALYTICS)),
        **context,
    )


def _coordinator_choice(request):
    if not procedure_selectors.is_coordinator(request.user):
        raise Http404
    choice = _choice(request)
    if choice.work is None:
        raise Http404
    return choice


def _sort(request):
    sort = request.GET.get("sort", "code")
    return (sort if sort in reports.SORTS else "code"), request.GET.get("dir") == "desc"


@cabinet_user_required
def schools(request):
    choice = _coordinator_choice(request)
    sort, descending = _sort(request)
    summaries = reports.schools_side_by_side(
        choice.work, procedure_selectors.schools_of_area(request.user), sort, descending
    )
    page = _page(request, summaries)
    return _render(
        request,
        "cabinet/analytics_schools.html",
        Tab.ANALYTICS,
        choice=choice,
        page=page,
        rows=[reports.school_row(s) for s in page],
        header=reports.SCHOOLS_HEADER,
        sorts=[(key, label) for key, (label, _) in reports.SORTS.items()],
        sort=sort,
        descending=descending,
    )


def _region_fives(request, choice):
    region = reports.Group("region", "Регион", "region_id", request.user.region_id)
    figures = reports.figures_of(choice.work, [region], [])
    return figures[0].share(figures[0].counts["marks_5"])


@cabinet_user_required
def bias(request):
    choice = _coordinator_choice(request)
    rule = reports.BiasRule.from_settings()
    fives = _region_fives(request, choice)
    found = reports.biased_schools(
        choice.work, procedure_selectors.schools_of_area(request.user), fives, rule
    )
    page = _page(request, found)
    return _render(
        request,
        "cabinet/analytics_bias.html",
        Tab.ANALYTICS,
        choice=choice,
        rule_text=rule.text(fives),
        page=page,
        rows=[reports.school_row(s) for s in page],
        header=reports.SCHOOLS_HEADER,
    )


@cabinet_user_required
def report_xlsx(request):
    """Any report of the page as .xlsx: ``?work=…&report=marks|scores|tasks|journal|schools|bias``."""
    choice = _choice(request)
    if choice.work is None:
        raise Http404
    slug = request.GET.get("report", "")
    work = choice.work
    heading = f"{work.procedure.title}. {work.code}: {work}"
    if slug in ("schools", "bias"):
        if not procedure_selectors.is_coordinator(request.user):
            raise Http404
        area = procedure_selectors.schools_of_area(request.user)
        if slug == "schools":
            sort, descending = _sort(request)
            found = reports.schools_side_by_side(work, area, sort, descending)
            title, note = "ОО по отдельности", ""
        else:
            rule = reports.BiasRule.from_settings()
            fives = _region_fives(request, choice)
            found = reports.biased_schools(work, area, fives, rule)
            title, note = "Признаки необъективности", rule.text(fives)
        rows = (reports.school_row(s) for s in found.iterator(chunk_size=2000))
        table = reports.Table(slug, title, reports.SCHOOLS_HEADER, rows, note)
    else:
        tables = {t.slug: t for t in _tables(*_figures(request, choice))}
        if slug not in tables:
            raise Http404
        table = tables[slug]
    handle = sheets.tables_xlsx([table], heading=heading)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"analitika-{work.code}-{slug}.xlsx",
        content_type=sheets.XLSX,
    )
