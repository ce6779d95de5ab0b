from django.contrib import admin

from .models import Summary


@admin.register(Summary)
class SummaryAdmin(admin.ModelAdmin):
    """Read-only: results change only by a school's upload (or a change of the work's scale)."""

    list_display = [
        "school",
        "work",
        "participants",
        "absent",
        "marks_5",
        "raised",
        "uploaded_at",
        "uploaded_by",
    ]
    list_filter = ["work__procedure", "region"]
    search_fields = ["school__code", "school__name"]
    list_select_related = ["school", "work"]
    raw_id_fields = ["school", "work", "municipality"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
