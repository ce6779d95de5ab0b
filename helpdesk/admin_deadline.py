"""The deadline in the operators' list: a column that marks the overdue and the «Просрочена» filter.

Kept beside admin.py, which lists them, so that the list's own code stays as it is.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from .models import OPEN_STATUSES


class OverdueFilter(admin.SimpleListFilter):
    title = "срок"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Просрочена")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            # The partial index ticket_open_due holds exactly these rows' deadlines.
            return queryset.filter(status__in=OPEN_STATUSES, due_at__lt=timezone.now())
        return queryset


@admin.display(description="срок", ordering="due_at")
def due_column(ticket):
    if ticket.due_at is None:
        return "—"
    when = date_format(timezone.localtime(ticket.due_at), "d.m.Y H:i")
    if ticket.is_overdue:
        return format_html('<strong class="ticket-overdue">{} · просрочена</strong>', when)
    return when
