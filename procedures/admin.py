from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .importing import MAX_FILE_BYTES, ProcedureFileError, procedure_import
from .models import (
    Application,
    ApplicationChange,
    ApplicationWork,
    ArchiveDownload,
    Material,
    Procedure,
    Stage,
    Task,
    Variant,
    Work,
)
from .progress_views import staff_progress, staff_progress_xlsx


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0


class WorkInline(admin.TabularInline):
    model = Work
    extra = 0
    fields = ["code", "subject", "grade", "held_from", "held_until", "materials_at", "edit"]
    readonly_fields = ["edit"]
    show_change_link = True

    @admin.display(description="задания, варианты")
    def edit(self, work):
        if not work.pk:
            return "—"
        return format_html(
            '<a href="{}">открыть</a>', reverse("admin:procedures_work_change", args=[work.pk])
        )


class MaterialInline(admin.TabularInline):
    model = Material
    extra = 0
    fields = ["title", "work", "release_at", "file"]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Файл JSON", help_text="Формат — SPEC §7; процедура с тем же названием и годом обновится."
    )


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "kind", "progress"]
    list_filter = ["kind", "year"]
    search_fields = ["title"]
    inlines = [StageInline, WorkInline, MaterialInline]
    change_list_template = "admin/procedures/procedure/change_list.html"

    @admin.display(description="ход работы ОО")
    def progress(self, procedure):
        return format_html(
            '<a href="{}">Ход работы ОО</a>',
            reverse("admin:procedures_procedure_progress", args=[procedure.pk]),
        )

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="procedures_procedure_import"),
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="procedures_procedure_progress",
            ),
            path(
                "<int:pk>/progress.xlsx",
                self.admin_site.admin_view(self.progress_xlsx_view),
                name="procedures_procedure_progress_xlsx",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        errors = []
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = procedure_import(content=upload.read(MAX_FILE_BYTES + 1))
            except ProcedureFileError as error:
                errors = error.errors
            else:
                messages.success(request, result.summary())
                return redirect("admin:procedures_procedure_change", result.procedure.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Загрузка процедуры из JSON",
            "form": form,
            "errors": errors,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/procedures/procedure/import.html", context)

    def progress_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return staff_progress(self, request, pk)

    def progress_xlsx_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return staff_progress_xlsx(self, request, pk)


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 1


@admin.register(Work)
class WorkAdmin(admin.ModelAdmin):
    list_display = ["code", "subject", "grade", "procedure", "held_from", "held_until", "materials_at"]
    list_filter = ["procedure"]
    search_fields = ["code", "subject"]
    inlines = [TaskInline, VariantInline]


class ApplicationWorkInline(admin.TabularInline):
    model = ApplicationWork
    extra = 0
    readonly_fields = ["work", "participants", "day", "archive_downloaded_at"]
    can_delete = False


class ApplicationChangeInline(admin.TabularInline):
    model = ApplicationChange
    extra = 0
    readonly_fields = ["by_username", "at", "before", "after"]
    exclude = ["by"]
    can_delete = False


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """Read-only here: applications change through the cabinet, where every change is logged."""

    list_display = ["school", "procedure", "version", "updated_at"]
    list_filter = ["procedure"]
    search_fields = ["school__code", "school__name"]
    list_select_related = ["school", "procedure"]
    inlines = [ApplicationWorkInline, ApplicationChangeInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ArchiveDownload)
class ArchiveDownloadAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "what", "school", "work", "material"]
    list_filter = ["what"]
    search_fields = ["username"]
    list_select_related = ["school", "work", "material"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
