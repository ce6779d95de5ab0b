"""The staff's «Ход работы ОО» across every region, in the admin."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import Region, School

from . import progress
from .models import Procedure

PAGE_SIZE = 50


def query_string(params):
    """The page's filters for the pagination links, without the page number."""
    params = params.copy()
    params.pop("page", None)
    encoded = params.urlencode()
    return encoded + "&" if encoded else ""


def staff_progress(model_admin, request, pk):
    procedure = get_object_or_404(Procedure.objects.prefetch_related("works"), pk=pk)
    schools = School.objects.all()
    region = request.GET.get("region", "")
    if region:
        schools = schools.filter(region_id=region)
    table = progress.ProgressTable(procedure, schools, request.GET)
    page = Paginator(table.rows_queryset(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Ход работы ОО — {procedure}",
        "opts": model_admin.model._meta,
        "procedure": procedure,
        "table": table,
        "page": page,
        "rows": table.rows(page),
        "totals": table.totals(),
        "regions": Region.objects.all(),
        "region": region,
        "query_string": query_string(request.GET),
        "xlsx_url": reverse("admin:procedures_procedure_progress_xlsx", args=[procedure.pk]),
    }
    return TemplateResponse(request, "admin/procedures/procedure/progress.html", context)


def staff_progress_xlsx(model_admin, request, pk):
    procedure = get_object_or_404(Procedure.objects.prefetch_related("works"), pk=pk)
    schools = School.objects.all()
    if region := request.GET.get("region", ""):
        schools = schools.filter(region_id=region)
    table = progress.ProgressTable(procedure, schools, request.GET)
    return progress.xlsx_response(table, f"hod-raboty-oo-{procedure.year}-{region or 'rf'}.xlsx")
