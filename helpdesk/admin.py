import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.logins import parse_login

from . import dashboard, normalize, outbox, replies, selectors, services, sms, spreadsheet
from .admin_deadline import OverdueFilter, due_column
from .models import (
    NOT_CLOSED_STATUSES,
    OPEN_STATUSES,
    Access,
    Attachment,
    AttachmentDownload,
    Delivery,
    Notification,
    Preview,
    Purpose,
    ReplyTemplate,
    Status,
    Ticket,
    TicketEvent,
)

# White text on each reaches 4.5:1: #0b5ed7 5.8:1; #7a5c00 6.3:1 (Bootstrap's #997404 was 4.3:1);
# #495057 8.2:1; #146c43 6.5:1; #b02a37 6.5:1.
STATUS_COLOURS = {
    Status.NEW: "#0b5ed7",
    Status.IN_PROGRESS: "#7a5c00",
    Status.SENDING: "#495057",
    Status.WAITING: "#6f42c1",
    Status.DONE: "#146c43",
    Status.REJECTED: "#b02a37",
}
# 20 pages of 50. Counting further costs as much as reading every match (UPPER() of each name, for
# a word search), and no operator pages that deep: they narrow the search or filter instead.
COUNT_CAP = 1_000
NUMBER_SHAPE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}")
PHONE_SHAPE = re.compile(r"\+?[0-9]{5,15}")


def _search_query(typed):
    """A query typed as a request number or a phone in any of the ways people type them, in its
    stored form; anything else as typed, trimmed."""
    typed = typed.strip()
    return normalize.ticket_number(typed) or normalize.phone(typed) or typed


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows: the list never counts a million-row table."""

    @cached_property
    def count(self):
        capped = self.object_list.order_by().values("pk")[: COUNT_CAP + 1]
        connection = connections[self.object_list.db]
        if connection.vendor != "postgresql":
            return capped.count()
        # PostgreSQL's planner takes UPPER() of a name for cheap, so for a word that a few percent of
        # the names hold it reads the table row by row until 1,001 match (100 ms at a million rows)
        # rather than take the trigram index (10 ms). Counting through the indexes avoids that.
        with transaction.atomic(using=self.object_list.db), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            return capped.count()


class QueueFilter(admin.SimpleListFilter):
    """The status filter, which opens on the queue: the open requests (new, in progress, SMS failed).

    «Все» clears it; any one status can be chosen as before (``status__exact``, Django's own name). A
    search with no status chosen looks in every status: a number or a phone read out on the telephone
    must find the request whatever became of it.
    """

    title = "статус"
    parameter_name = "status__exact"
    ALL = "all"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.searching = _searching(request)

    def lookups(self, request, model_admin):
        return [(self.ALL, "Все"), *Status.choices]

    def queryset(self, request, queryset):
        if self.value() is None and not self.searching:
            return queryset.filter(status__in=OPEN_STATUSES)
        if self.value() in (None, self.ALL):
            return queryset
        return queryset.filter(status=self.value())

    def choices(self, changelist):
        yield {
            "selected": self.value() is None and not self.searching,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Открытые (очередь)",
        }
        for value, title in self.lookup_choices:
            selected = self.value() == str(value) or (
                value == self.ALL and self.value() is None and self.searching
            )
            yield {
                "selected": selected,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }


def _searching(request):
    return bool(request.GET.get("q", "").strip())


def _queue_shown(request):
    """Whether the list shows open requests (the default, or one open status): worked oldest first."""
    status = request.GET.get(QueueFilter.parameter_name)
    return status in OPEN_STATUSES or (status is None and not _searching(request))


class MineFilter(admin.SimpleListFilter):
    title = "исполнитель"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("1", "Мои заявки"), ("none", "Без исполнителя")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(assignee=request.user)
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset


def _staff_may(request, perm):
    user = request.user
    return user.is_active and user.is_staff and user.has_perm(perm)


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    can_delete = False
    fields = ["picture", "original_name", "size_shown", "kind", "download"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="просмотр")
    def picture(self, attachment):
        if not attachment.previewable:
            return "—"
        if attachment.preview_status != Preview.READY:  # «Превью готовится», or why there is none
            return attachment.get_preview_status_display()
        # Large enough to read a login and a stamp; the picture itself, in a new tab, to zoom. Both
        # are a «просмотр» in the audit trail, not a download.
        url = reverse("admin:helpdesk_attachment_preview", args=[attachment.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener" class="ticket-preview">'
            '<img src="{}" alt="Просмотр: {}"><span>Открыть в новой вкладке (увеличить)</span></a>',
            url,
            url,
            attachment.original_name,
        )

    @admin.display(description="размер")
    def size_shown(self, attachment):
        return filesizeformat(attachment.size)

    @admin.display(description="вид")
    def kind(self, attachment):
        return file_kind(attachment)

    @admin.display(description="файл")
    def download(self, attachment):
        url = reverse("admin:helpdesk_attachment_download", args=[attachment.pk])
        return format_html('<a href="{}">Скачать</a>', url)


FILE_KINDS = {
    "application/pdf": "PDF",
    "image/jpeg": "Изображение JPEG",
    "image/png": "Изображение PNG",
    "image/gif": "Изображение GIF",
    "application/msword": "Документ Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Документ Word",
    "application/vnd.ms-excel": "Таблица Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Таблица Excel",
    "application/zip": "Архив ZIP",
    "application/vnd.rar": "Архив RAR",
    "application/x-rar-compressed": "Архив RAR",
}
FILE_KINDS_BY_EXTENSION = {
    "doc": "Документ Word",
    "docx": "Документ Word",
    "xls": "Таблица Excel",
    "xlsx": "Таблица Excel",
    "zip": "Архив ZIP",
    "rar": "Архив RAR",
}


def file_kind(attachment):
    """What an operator calls the file («PDF», «Изображение JPEG»), not its MIME type.

    The type was sniffed from the content (an OLE container for .doc and .xls alike), so the
    extension, checked against that content at upload, names the kind where the type does not.
    """
    extension = attachment.original_name.rpartition(".")[2].lower()
    return (
        FILE_KINDS.get(attachment.content_type)
        or FILE_KINDS_BY_EXTENSION.get(extension)
        or f"Файл .{extension}"
    )


class EventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "actor", "from_status", "to_status", "comment"]
    readonly_fields = fields
    verbose_name_plural = "история"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DownloadInline(admin.TabularInline):
    model = AttachmentDownload
    extra = 0
    can_delete = False
    fields = ["at", "user", "kind", "file_name"]
    readonly_fields = fields
    verbose_name_plural = "Скачивания и просмотры"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["channel", "kind", "recipient", "status", "gateway", "attempts", "error", "sent_at", "resend"]
    readonly_fields = fields

    @admin.display(description="последняя ошибка")
    def error(self, notification):
        return sms.in_russian(notification.last_error)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def resend(self, notification):
        if notification.status != Delivery.FAILED:
            return ""
        # The form itself stands outside the change form (forms cannot nest): see change_form.html.
        return format_html(
            '<button type="submit" form="resend-{}" class="button">Отправить повторно</button>',
            notification.pk,
        )


# What each page that writes to the requester says (admin/helpdesk/ticket/compose.html).
COMPOSE = {
    Purpose.REJECTION: {
        "step": "Отклонить",
        "label": "Причина отклонения (будет отправлена заявителю по e-mail):",
        "button": "Отклонить заявку",
        "empty": "Укажите причину отклонения.",
    },
    Purpose.CLARIFICATION: {
        "step": "Запросить уточнение",
        "label": (
            "Что нужно уточнить (уйдёт заявителю по e-mail со ссылкой, по которой он приложит файлы и "
            "напишет комментарий):"
        ),
        "button": "Запросить уточнение",
        "empty": "Напишите, что нужно уточнить: этот текст получит заявитель.",
    },
    Purpose.REPLY: {
        "step": "Ответить по e-mail",
        "label": "Ответ заявителю (уйдёт по e-mail; статус заявки не меняется):",
        "button": "Отправить ответ",
        "empty": "Напишите текст ответа.",
    },
}


def _password_issued_message(ticket):
    if ticket.status == Status.DONE:
        return f"Заявка № {ticket.number} выполнена: новый пароль отправлен по SMS, ответ — на e-mail."
    if ticket.status == Status.SENDING:
        return (
            f"Заявка № {ticket.number}: новый пароль отправляется по SMS. Заявка станет «Выполнена», "
            "когда SMS уйдёт; тогда же заявителю уйдёт ответ на e-mail."
        )
    return f"Заявка № {ticket.number}: SMS с паролем не ушло, причина — в истории заявки."


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "created_at",
        "status_badge",
        "sms_failed",
        "login",
        "duplicate",
        "role",
        "region",
        "organization_name",
        "files",
        "assignee",
        "age",
        due_column,
    ]
    list_filter = [
        QueueFilter,
        OverdueFilter,
        "password_sms_failed",
        "region",
        "role",
        "information_system",
        "created_at",
        MineFilter,
    ]
    search_fields = ["=number", "=login", "=email", "=phone", "organization_name"]
    search_help_text = "Номер, логин, e-mail, телефон (в любой записи) или слово из наименования организации"
    list_select_related = ["region", "assignee"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 50
    date_hierarchy = None
    # The events are shown with the messages, in one timeline (change_form.html), not as an inline.
    inlines = [AttachmentInline, NotificationInline, DownloadInline]
    change_form_template = "admin/helpdesk/ticket/change_form.html"
    fieldsets = [
        (
            "Заявка",
            {
                "fields": [
                    "number",
                    "status",
                    "assignee",
                    "created_at",
                    "password_sms_failed",
                    "rejection_reason",
                    "personal_data_removed_at",
                ]
            },
        ),
        (
            "Данные из формы",
            {
                "fields": [
                    "login",
                    "role",
                    "region",
                    "organization_name",
                    "organization_type",
                    "information_system",
                    "person_name",
                    "head_name",
                    "phone",
                    "email",
                    "reason",
                    "description",
                ]
            },
        ),
    ]
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    def get_queryset(self, request):
        files = (
            Attachment.objects.filter(ticket=OuterRef("pk"))
            .order_by()
            .values("ticket")
            .annotate(n=Count("pk"))
            .values("n")
        )
        # Another open request for the same login, marked in the list: one EXISTS per row shown, on
        # the login index, inside the list's own query.
        # Questions that came by email have no login: they are nobody's duplicates.
        duplicates = (
            Ticket.objects.filter(login=OuterRef("login"), status__in=NOT_CLOSED_STATUSES)
            .exclude(pk=OuterRef("pk"))
            .exclude(login="")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(files_count=Coalesce(Subquery(files), 0), has_duplicate=Exists(duplicates))
        )

    def get_ordering(self, request):
        # The queue is worked oldest first; closed requests are looked up newest first.
        return ["created_at"] if _queue_shown(request) else ["-created_at"]

    def get_search_fields(self, request):
        """Only the fields that a query of this shape can match, a word of the name always.

        Each «=field» is one more UPPER(field) = UPPER(term) in an OR that PostgreSQL evaluates on
        every row it reads; a number, a login, an email or a phone is looked up only when the query
        looks like one, so a search reads one or two indexes instead of five.
        """
        query = _search_query(request.GET.get(SEARCH_VAR, ""))
        fields = [
            field
            for field, matches in [
                ("=number", NUMBER_SHAPE.fullmatch(query.upper())),
                ("=login", parse_login(query)),
                ("=email", "@" in query),
                ("=phone", PHONE_SHAPE.fullmatch(query)),
            ]
            if matches
        ]
        return [*fields, "organization_name"]

    def get_search_results(self, request, queryset, search_term):
        # «авсе нк23» or «8 912 345-67-89» is searched as the stored «ABCE-HK23» or «+79123456789»,
        # one term, through the same indexes (Django would split the phone into four words).
        return super().get_search_results(request, queryset, _search_query(search_term))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="статус", ordering="status")
    def status_badge(self, ticket):
        badge = format_html(
            '<span style="color:#fff;background:{};padding:2px 8px;border-radius:10px;'
            'white-space:nowrap">{}</span>',
            STATUS_COLOURS[ticket.status],
            ticket.get_status_display(),
        )
        if ticket.answered and ticket.is_open:
            # Back from «Ожидает ответа заявителя»: the requester's answer is waiting to be read.
            return format_html('{} <strong class="ticket-answered">ответ получен</strong>', badge)
        return badge

    @admin.display(description="SMS", ordering="password_sms_failed")
    def sms_failed(self, ticket):
        # The request came back because its password SMS failed: the phone is the first thing to check.
        if not ticket.password_sms_failed:
            return ""
        return format_html('<strong style="color:#b02a37;white-space:nowrap">{}</strong>', "SMS не ушло")

    @admin.display(description="дубли", ordering="has_duplicate")
    def duplicate(self, ticket):
        if not ticket.has_duplicate:
            return ""
        return format_html(
            '<strong class="ticket-duplicate" title="{}">Дубль логина</strong>',
            "По этому логину есть другие открытые заявки",
        )

    @admin.display(description="файлов", ordering="files_count")
    def files(self, ticket):
        return ticket.files_count

    @admin.display(description="возраст")
    def age(self, ticket):
        hours = int((timezone.now() - ticket.created_at).total_seconds() // 3600)
        return f"{hours // 24} д {hours % 24} ч" if hours >= 24 else f"{hours} ч"

    def get_urls(self):
        own = [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="helpdesk_ticket_dashboard",
            ),
            path("export.xlsx", self.admin_site.admin_view(self.export_view), name="helpdesk_ticket_export"),
            path(
                "take-next/",
                self.admin_site.admin_view(self.take_next_view),
                name="helpdesk_ticket_take_next",
            ),
            path("<int:pk>/take/", self.admin_site.admin_view(self.take_view), name="helpdesk_ticket_take"),
            path(
                "<int:pk>/issue-password/",
                self.admin_site.admin_view(self.issue_password_view),
                name="helpdesk_ticket_issue_password",
            ),
            path(
                "<int:pk>/phone/",
                self.admin_site.admin_view(self.phone_view),
                name="helpdesk_ticket_phone",
            ),
            path(
                "<int:pk>/email/",
                self.admin_site.admin_view(self.email_view),
                name="helpdesk_ticket_email",
            ),
            path(
                "<int:pk>/clarify/",
                self.admin_site.admin_view(self.clarify_view),
                name="helpdesk_ticket_clarify",
            ),
            path(
                "<int:pk>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="helpdesk_ticket_reply",
            ),
            path(
                "<int:pk>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="helpdesk_ticket_reject",
            ),
            path(
                "notification/<int:pk>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="helpdesk_notification_resend",
            ),
            # Not wrapped in admin_view: anyone but staff gets 404, not a login page.
            path("attachment/<int:pk>/download/", self.download_view, name="helpdesk_attachment_download"),
            path("attachment/<int:pk>/preview/", self.preview_view, name="helpdesk_attachment_preview"),
        ]
        return own + super().get_urls()

    def dashboard_view(self, request):
        """«Сводка»: the desk's load at a glance (helpdesk/dashboard.py), for staff who may see requests."""
        if not self.has_view_permission(request):
            raise Http404
        board = dashboard.desk_dashboard()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "board": board,
            "median_this_week": dashboard.duration_text(board.median_this_week),
            "median_last_week": dashboard.duration_text(board.median_last_week),
            "list_url": reverse("admin:helpdesk_ticket_changelist"),
            "title": "Сводка службы поддержки",
        }
        return render(request, "admin/helpdesk/ticket/dashboard.html", context)

    def export_view(self, request):
        """The list as .xlsx: the same filters and search as the list page it was asked from."""
        if not self.has_view_permission(request):
            raise Http404
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            messages.error(request, "Фильтры списка заданы неверно: выгрузка не сделана.")
            return redirect("admin:helpdesk_ticket_changelist")
        filename = f"zayavki-{timezone.localtime():%Y-%m-%d-%H%M}.xlsx"
        return _private(spreadsheet.tickets_xlsx(changelist.queryset, filename))

    def changelist_view(self, request, extra_context=None):
        # Mail or SMS that does not go out is what operators hear about first: the line says so.
        queued, failed = outbox.backlog(COUNT_CAP)
        notifications = reverse("admin:helpdesk_notification_changelist")
        extra_context = {
            **(extra_context or {}),
            "outbox_queued": queued,
            "outbox_failed": failed,
            "outbox_cap": COUNT_CAP if queued > COUNT_CAP else None,
            "outbox_queued_url": f"{notifications}?status__in={Delivery.PENDING},{Delivery.FAILED}",
            "outbox_failed_url": f"{notifications}?status__exact={Delivery.FAILED}",
            "may_take_next": request.user.has_perm("helpdesk.change_ticket"),
            "export_url": f"{reverse('admin:helpdesk_ticket_export')}?{request.GET.urlencode()}",
            "dashboard_url": reverse("admin:helpdesk_ticket_dashboard"),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, unquote(object_id))
        if ticket is None:  # no such request, or not a number: the admin's own «not found» answer
            return super().change_view(request, object_id, form_url, extra_context)
        held_by_other = ticket.assignee if ticket.assignee_id not in (None, request.user.pk) else None
        extra_context = {
            **(extra_context or {}),
            "ticket": ticket,
            "facts": selectors.account_facts(ticket),
            "held_by_other": held_by_other,
            "mine": ticket.assignee_id == request.user.pk and ticket.status == Status.IN_PROGRESS,
            "other_open": list(services.other_open_tickets(ticket)[:10]),
            "failed_notifications": ticket.notifications.filter(status=Delivery.FAILED),
            "may_act": request.user.has_perm("helpdesk.change_ticket") and ticket.is_actionable,
            "may_reply": request.user.has_perm("helpdesk.change_ticket")
            and ticket.personal_data_removed_at is None,
            "thread": _thread(ticket),
            "may_take_next": request.user.has_perm("helpdesk.change_ticket"),
            # Everything on the page is read-only evidence; changes go through the action buttons.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "title": f"Заявка № {ticket.number}",
        }
        services.attachment_previews_queue(ticket=ticket)
        return super().change_view(request, object_id, form_url, extra_context)

    def _with_filters(self, request, url):
        """``url`` with the list's filters the operator came with (Django's ``_changelist_filters``),
        so that every action returns to the same list."""
        context = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        return add_preserved_filters(context, url)

    def _to_ticket(self, request, pk):
        return redirect(self._with_filters(request, reverse("admin:helpdesk_ticket_change", args=[pk])))

    def _to_next(self, request):
        """Take the next request for the operator and open it; the list when the queue is empty."""
        ticket = services.ticket_take_next(by=request.user)
        if ticket is None:
            messages.info(request, "Открытых заявок без исполнителя нет.")
            return redirect(self._with_filters(request, reverse("admin:helpdesk_ticket_changelist")))
        messages.info(request, f"Следующая заявка № {ticket.number} взята в работу.")
        return self._to_ticket(request, ticket.pk)

    def _act(self, request, pk, action, success, *, then_next=False, **kwargs):
        """Call ``action``; back to the request, or, with ``then_next``, on to the next request once
        this one has left the queue (not when its SMS failed at once: the operator fixes the phone)."""
        if not request.user.has_perm("helpdesk.change_ticket"):
            raise Http404
        ticket = get_object_or_404(Ticket, pk=pk)
        try:
            ticket = action(ticket=ticket, by=request.user, **kwargs)
        except services.ServiceError as error:
            messages.error(request, str(error))
        else:
            ticket.refresh_from_db()  # a worker run in-process may have moved it on already
            messages.success(
                request, success(ticket) if callable(success) else success.format(number=ticket.number)
            )
            if then_next and not ticket.is_open:
                return self._to_next(request)
        return self._to_ticket(request, pk)

    @method_decorator(require_POST)
    def take_next_view(self, request):
        if not request.user.has_perm("helpdesk.change_ticket"):
            raise Http404
        return self._to_next(request)

    @method_decorator(require_POST)
    def take_view(self, request, pk):
        return self._act(
            request,
            pk,
            services.ticket_take,
            "Заявка № {number} взята в работу.",
            take_over=request.POST.get("take_over") == "1",
        )

    def issue_password_view(self, request, pk):
        """GET: the confirmation, with the login and the phone the password goes to; POST: issue it."""
        if not request.user.has_perm("helpdesk.change_ticket"):
            raise Http404
        if request.method == "POST":
            return self._act(request, pk, services.password_issue, _password_issued_message, then_next=True)
        ticket = get_object_or_404(Ticket, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "ticket": ticket,
            "facts": selectors.account_facts(ticket),
            "opts": self.model._meta,
            "preserved_filters": self.get_preserved_filters(request),
            "title": f"Выдать новый пароль по заявке № {ticket.number}?",
        }
        return render(request, "admin/helpdesk/ticket/issue_password.html", context)

    @method_decorator(require_POST)
    def phone_view(self, request, pk):
        return self._act(
            request,
            pk,
            services.ticket_phone_change,
            "Телефон в заявке № {number} исправлен.",
            phone=request.POST.get("new_phone", ""),
        )

    @method_decorator(require_POST)
    def email_view(self, request, pk):
        return self._act(
            request,
            pk,
            services.ticket_email_change,
            "E-mail в заявке № {number} исправлен.",
            email=request.POST.get("new_email", ""),
        )

    def reject_view(self, request, pk):
        return self._compose(
            request,
            pk,
            Purpose.REJECTION,
            services.ticket_reject,
            "Заявка № {number} отклонена.",
            field="reason",
            then_next=True,
        )

    def clarify_view(self, request, pk):
        return self._compose(
            request,
            pk,
            Purpose.CLARIFICATION,
            services.ticket_clarify,
            "Заявка № {number}: уточнение запрошено, заявка ждёт ответа заявителя.",
            then_next=True,
        )

    def reply_view(self, request, pk):
        return self._compose(
            request, pk, Purpose.REPLY, services.ticket_reply, "Ответ по заявке № {number} отправлен."
        )

    def _compose(self, request, pk, purpose, action, success, *, field="text", then_next=False):
        """A page with a text for the requester: a canned reply may be picked (?template=…) and is
        filled in for this request, the operator edits it and sends it (POST)."""
        if not request.user.has_perm("helpdesk.change_ticket"):
            raise Http404
        ticket = get_object_or_404(Ticket, pk=pk)
        text = ""
        if request.method == "POST":
            text = request.POST.get(field, "")
            if text.strip():
                return self._act(request, pk, action, success, then_next=then_next, **{field: text})
            messages.error(request, COMPOSE[purpose]["empty"])
        templates = ReplyTemplate.objects.filter(purpose=purpose, is_active=True)
        chosen = (
            templates.filter(pk=request.GET.get("template")).first()
            if request.GET.get("template", "").isdigit()
            else None
        )
        if chosen is not None:
            text = replies.fill(chosen.text, ticket)
        context = {
            **self.admin_site.each_context(request),
            **COMPOSE[purpose],
            "ticket": ticket,
            "field": field,
            "text": text,
            "templates": templates,
            "chosen": chosen,
            "opts": self.model._meta,
            "preserved_filters": self.get_preserved_filters(request),
            "changelist_filters": request.GET.get("_changelist_filters", ""),
            "title": f"{COMPOSE[purpose]['step']}: заявка № {ticket.number}",
        }
        return render(request, "admin/helpdesk/ticket/compose.html", context)

    @method_decorator(require_POST)
    def resend_view(self, request, pk):
        notification = get_object_or_404(Notification, pk=pk)
        if not request.user.has_perm("helpdesk.change_ticket"):
            raise Http404
        try:
            services.notification_resend(notification=notification, by=request.user)
        except services.ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Уведомление поставлено в очередь на повторную отправку.")
        return self._to_ticket(request, notification.ticket_id)

    def _open(self, request, pk, field):
        """The attachment and its ``field`` opened, for staff who may see requests; 404 to anyone else."""
        if not _staff_may(request, "helpdesk.view_ticket"):
            raise Http404
        attachment = get_object_or_404(Attachment, pk=pk)
        if not getattr(attachment, field):  # no preview (yet)
            raise Http404
        try:
            return attachment, getattr(attachment, field).open("rb")
        except FileNotFoundError:
            raise Http404 from None

    def download_view(self, request, pk):
        attachment, handle = self._open(request, pk, "file")
        attachment.record_download(request.user)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
        return _private(response)

    def preview_view(self, request, pk):
        """The stored preview: never rendered here (tasks.render_preview does that, in a child process)."""
        attachment, handle = self._open(request, pk, "preview")
        with handle:
            png = handle.read()  # a few MB at most: ten PDF pages of 800×1100
        attachment.record_download(request.user, Access.PREVIEW)
        return _private(HttpResponse(png, content_type="image/png"))


def _thread(ticket):
    """The conversation and the events in the order they happened: (when, "message"|"event", row)."""
    messages_ = ticket.messages.select_related("author").prefetch_related("attachments")
    events = ticket.events.select_related("actor")
    rows = [(m.created_at, "message", m) for m in messages_] + [(e.created_at, "event", e) for e in events]
    return sorted(rows, key=lambda row: (row[0], row[1] == "message"))


def _private(response):
    # A scan or its picture stays in no cache, the browser's included: a shared school or office
    # computer must not keep it once the operator has logged out.
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


class ReplyTemplateForm(forms.ModelForm):
    class Meta:
        model = ReplyTemplate
        fields = ["title", "purpose", "text", "is_active"]
        help_texts = {
            "text": "Подстановки: "
            + "; ".join(f"{key} — {meaning}" for key, meaning in replies.PLACEHOLDERS.items())
            + ". Оператор видит заполненный текст и может исправить его перед отправкой."
        }

    def clean_text(self):
        text = self.cleaned_data["text"]
        unknown = replies.unknown_placeholders(text)
        if unknown:
            raise forms.ValidationError(
                f"Неизвестные подстановки: {', '.join(unknown)}. Можно: {', '.join(replies.PLACEHOLDERS)}."
            )
        return text


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    """«Шаблоны ответов»: staff keep them; operators pick one on the clarification, rejection, reply pages."""

    form = ReplyTemplateForm
    list_display = ["title", "purpose", "is_active"]
    list_filter = ["purpose", "is_active"]
    search_fields = ["title", "text"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "ticket", "channel", "kind", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel", "kind"]
    list_select_related = ["ticket"]
    search_fields = ["=ticket__number", "=recipient"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    # The hashes a password SMS keeps to restore are no operator's business.
    readonly_fields = [f.name for f in Notification._meta.fields if f.editable]
    exclude = ["previous_password_hash", "previous_must_change", "issued_password_hash"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AttachmentDownload)
class AttachmentDownloadAdmin(admin.ModelAdmin):
    """The audit trail of downloads and previews: read-only for everyone, superusers included."""

    list_display = ["at", "user", "kind", "ticket", "file_name"]
    list_filter = [("user", admin.RelatedOnlyFieldListFilter), "kind", "at"]
    list_select_related = ["user", "ticket"]
    search_fields = ["=ticket__number"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = ["at", "user", "kind", "ticket", "attachment", "file_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
