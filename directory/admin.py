from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from fisoko_portal.uploads import UploadError, clean_name

from . import services, tasks
from .models import CredentialHandover, DirectoryImport

DETAIL_TEMPLATE = "admin/directory/directoryimport/detail.html"


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Файл справочника",
        help_text="CSV (UTF-8, разделитель «;» или «,») или .xlsx, не более 200 МБ. Столбцы: "
        "«Код региона», «Код муниципалитета», «Муниципалитет», «Код ОО», «Наименование ОО», «НИКО».",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            upload.clean_name = clean_name(upload.name or "")
        except UploadError as error:
            raise forms.ValidationError(str(error)) from error
        return upload


@admin.register(DirectoryImport)
class DirectoryImportAdmin(admin.ModelAdmin):
    """Upload → preview → confirm; the import itself runs in a Celery task, its progress polled."""

    list_display = ["pk", "created_at", "created_by", "file_name", "status", "progress", "summary"]
    list_filter = ["status"]
    list_select_related = ["created_by"]

    @admin.display(description="итог")
    def summary(self, obj):
        counts = (obj.report or obj.preview).get("counts")
        if obj.status == DirectoryImport.Status.REFUSED or not counts:
            return obj.message
        return ", ".join(
            f"{label}: +{counts[key]['created']} ~{counts[key]['changed']}"
            for key, label in [("municipalities", "МО"), ("schools", "ОО"), ("accounts", "уч. записи")]
        )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # every import is kept

    def get_urls(self):
        return [
            path(
                "<int:pk>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="directory_import_confirm",
            ),
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="directory_import_progress",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            record = services.import_preview(
                file=upload, size=upload.size, name=upload.clean_name, by=request.user
            )
            return redirect("admin:directory_directoryimport_change", record.pk)
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
                   "title": "Загрузка справочника ОО"}  # fmt: skip
        return TemplateResponse(request, "admin/directory/directoryimport/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = get_object_or_404(DirectoryImport, pk=object_id)
        if not self.has_view_permission(request, record):
            raise PermissionDenied
        summary = record.report if record.report.get("counts") else record.preview
        errors = record.report.get("errors") or record.preview.get("errors") or []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(record),
            "record": record,
            "summary": summary,
            "rows": _count_rows(summary.get("counts", {})),
            "errors": errors,
            "can_confirm": record.status == DirectoryImport.Status.PREVIEW
            and self.has_add_permission(request),
        }
        return TemplateResponse(request, DETAIL_TEMPLATE, context)

    def confirm_view(self, request, pk):
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        record = get_object_or_404(DirectoryImport, pk=pk)
        if request.POST.get("checksum") != record.checksum or _stored_checksum(record) != record.checksum:
            messages.error(
                request, "Файл изменился после предпросмотра: импорт не выполнен. Загрузите файл заново."
            )
            return redirect("admin:directory_directoryimport_change", pk)
        try:
            with transaction.atomic():
                services.import_start(directory_import=record)
                transaction.on_commit(lambda: tasks.run_import.delay(pk))
        except services.ImportBusy as busy:
            messages.error(request, str(busy))
        return redirect("admin:directory_directoryimport_change", pk)

    def progress_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        record = get_object_or_404(DirectoryImport, pk=pk)
        return JsonResponse(
            {
                "status": record.status,
                "status_display": record.get_status_display(),
                "progress": record.progress,
                "finished": record.status != DirectoryImport.Status.RUNNING,
            }
        )


def _stored_checksum(record):
    try:
        with record.file.open("rb") as stored:
            return services.checksum_of(stored)
    except (FileNotFoundError, ValueError):
        return None


def _count_rows(counts):
    labels = [("municipalities", "Муниципалитеты"), ("schools", "Образовательные организации"),
              ("accounts", "Учётные записи")]  # fmt: skip
    return [(label, counts[key]) for key, label in labels if key in counts]


@admin.register(CredentialHandover)
class CredentialHandoverAdmin(admin.ModelAdmin):
    """Who handed access to which accounts, and when. Read-only: the record of each handover."""

    list_display = ["pk", "created_at", "coordinator", "status", "account_count", "downloaded_at"]
    list_filter = ["status"]
    list_select_related = ["coordinator"]
    search_fields = ["coordinator__username", "accounts__username"]
    fields = ["coordinator", "created_at", "status", "progress", "ready_at", "expires_at", "downloaded_at",
              "account_list"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="учётных записей")
    def account_count(self, obj):
        return obj.accounts.count()

    @admin.display(description="учётные записи")
    def account_list(self, obj):
        return ", ".join(obj.accounts.order_by("username").values_list("username", flat=True))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
