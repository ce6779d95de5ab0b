import math

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from fisoko_portal.uploads import MAX_TOTAL_BYTES

from . import letter, links, normalize, services, wording
from .forms import ApplyForm, ReplyForm, StatusForm, declared_files_errors
from .models import Kind, Notification, Reason, Status
from .services import filed_summary, ticket_find, ticket_submit
from .throttle import allow, record, seconds_left, spent

REASON_PHRASES = {Reason.LOST: "утерей пароля", Reason.COORDINATOR_CHANGE: "сменой координатора"}


def _throttled(request, window, filed=False):
    seconds = seconds_left(window)
    context = {"filed": filed, "minutes": math.ceil(seconds / 60)}
    response = render(request, "helpdesk/throttled.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _errors(form):
    """The form's refusals as {field name: [messages]} for the page's script."""
    return {field: [e["message"] for e in errors] for field, errors in form.errors.get_json_data().items()}


def _wants_json(request):
    return request.headers.get("Accept") == "application/json"


def apply(request):
    if request.method == "POST":
        # Two budgets per client address. Filed requests are what the limit is about, and only they
        # count: a refused post (a field to correct, a file to replace) costs nothing, so schools
        # behind one shared address are not refused for each other's typos. Every post counts
        # against a much higher cap too, against floods of refused posts.
        if not allow(request, "apply-post", *settings.HELPDESK_APPLY_POST_RATE):
            return _throttled(request, settings.HELPDESK_APPLY_POST_RATE[1])
        if spent(request, "apply", *settings.HELPDESK_APPLY_RATE):
            return _throttled(request, settings.HELPDESK_APPLY_RATE[1], filed=True)
        form = ApplyForm(request.POST, request.FILES)
        if form.is_valid():
            data = {
                k: v for k, v in form.cleaned_data.items() if k not in {"attachments", "consent", "website"}
            }
            ticket = ticket_submit(data=data, files=form.cleaned_data["attachments"])
            record(request, "apply", settings.HELPDESK_APPLY_RATE[1])
            request.session["helpdesk_ticket_number"] = ticket.number
            return redirect("helpdesk:done")
        if _wants_json(request):  # the page's script shows the errors and keeps the chosen files
            return JsonResponse({"errors": _errors(form)}, status=400)
    else:
        form = ApplyForm()
    context = {"form": form, "max_bytes": MAX_TOTAL_BYTES, "files_sent": bool(request.FILES)}
    return render(request, "helpdesk/apply.html", context)


@require_POST
def apply_check(request):
    """Check the typed fields, and the chosen files by name and size, before the files are sent.

    The page's script posts here first, so a mistyped phone costs no 40 MB upload and the chosen
    files stay chosen. Nothing is stored. The same rules as /apply/: the same form, and for the
    files what can be judged without their content (it is checked on the real submission).
    """
    # Counted like every post to /apply/ (the flood cap): a check is what a person does before filing.
    if not allow(request, "apply_check", *settings.HELPDESK_APPLY_POST_RATE):
        return _throttled(request, settings.HELPDESK_APPLY_POST_RATE[1])
    form = ApplyForm(request.POST)
    form.is_valid()
    errors = _errors(form)
    errors.pop("attachments", None)
    names, sizes = request.POST.getlist("attachment_name"), request.POST.getlist("attachment_size")
    files = declared_files_errors(names, sizes)
    if files:
        errors["attachments"] = files
    return JsonResponse({"errors": errors})


def done(request):
    number = request.session.get("helpdesk_ticket_number")
    if not number:
        return redirect("helpdesk:apply")
    # The phone read back before the password goes there: a typo is caught here, not by a stranger.
    filed = filed_summary(number=number) or {"phone": "", "mailed": False}
    context = {
        **wording.desk_context(),
        "number": number,
        "mailed": filed["mailed"],
        "phone": normalize.phone_display(filed["phone"]) if filed["phone"] else "",
    }
    return render(request, "helpdesk/done.html", context)


@require_http_methods(["GET", "POST"])
def letter_template(request):
    """The letter as .docx or .pdf: blank by GET, pre-filled by POST with what the form holds so far.

    A POST's variant follows the login's role (a school's letter for sch/edu logins); nothing is stored.
    """
    if not allow(request, "letter", *settings.HELPDESK_LETTER_RATE):
        return _throttled(request, settings.HELPDESK_LETTER_RATE[1])
    get = (request.POST if request.method == "POST" else request.GET).get
    fmt = get("format") if get("format") in letter.CONTENT_TYPES else letter.DOCX
    fields = {}
    if request.method == "GET":
        variant = get("variant") if get("variant") in letter.VARIANTS else letter.SCHOOL
    else:
        variant = letter.variant_for(get("login", "")[:32], get("organization_type", ""))
        fields = {
            "login": get("login", "")[:32],
            "reason": REASON_PHRASES.get(get("reason"), ""),
            "organization": get("organization_name", "")[:500],
            "head": get("head_name", "")[:300],
            "person": get("person_name", "")[:300],
            "email": get("email", "")[:254],
            "phone": get("phone", "")[:40],
        }
    render_letter = letter.letter_pdf if fmt == letter.PDF else letter.letter_docx
    response = HttpResponse(render_letter(variant=variant, **fields), content_type=letter.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="pismo-zamena-parolya-{variant}.{fmt}"'
    return response


def status(request):
    ticket = None
    searched = False
    if request.method == "POST":
        if not allow(request, "status", *settings.HELPDESK_STATUS_RATE):
            return _throttled(request, settings.HELPDESK_STATUS_RATE[1])
        form = StatusForm(request.POST)
        if form.is_valid():
            searched = True
            ticket = ticket_find(**form.cleaned_data)
    else:
        # Links in mail fill in the number (?number=…); the email is still the requester's to type.
        form = StatusForm(initial={"number": normalize.ticket_number(request.GET.get("number", ""))})
    context = {
        **wording.desk_context(),
        "form": form,
        "ticket": ticket,
        "searched": searched,
        "statuses": [(status.label, wording.explain(status)) for status in Status],
    }
    if ticket:
        context["since"] = ticket.status_since()
        context["explanation"] = wording.explain(ticket.status)
    return render(request, "helpdesk/status.html", context)


@require_http_methods(["GET", "POST"])
def reply(request, token):
    """The private link of a clarification email: the requester adds files and a comment, no login.

    The page shows the request's number and what the desk asked (its own words), nothing the
    requester typed: whoever holds the link sees only that. A forged, expired or closed request's
    link gets a page that says why, and nothing is stored.
    """
    try:
        ticket = services.ticket_answer_check(ticket_id=links.ticket_id_from(token))
    except links.LinkError as error:
        return _reply_page(request, {"refusal": str(error)}, status=400)
    except services.ServiceError as error:
        return _reply_page(request, {"refusal": str(error)}, status=410)
    form = ReplyForm()
    if request.method == "POST":
        if not allow(request, "reply", *settings.HELPDESK_REPLY_RATE):
            return _throttled(request, settings.HELPDESK_REPLY_RATE[1])
        form = ReplyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.ticket_answer(
                    ticket_id=ticket.pk,
                    comment=form.cleaned_data["comment"],
                    files=form.cleaned_data["attachments"],
                )
            except services.ServiceError as error:  # closed between the page and the answer
                return _reply_page(request, {"refusal": str(error)}, status=410)
            return redirect(f"{request.path}?sent=1")
    asked = (
        Notification.objects.filter(ticket=ticket, kind=Kind.CLARIFICATION, message__isnull=False)
        .select_related("message")
        .order_by("-pk")
        .first()
    )
    context = {
        "ticket": ticket,
        "form": form,
        "asked": asked.message if asked else None,
        "sent": request.GET.get("sent") == "1" and request.method == "GET",
        "waiting": ticket.status == Status.WAITING,
    }
    return _reply_page(request, context, status=400 if form.errors else 200)


def _reply_page(request, context, status):
    response = render(request, "helpdesk/reply.html", {**wording.desk_context(), **context}, status=status)
    # The link is the key: kept out of caches and out of the Referer of any link to another site
    # ("same-origin", not "no-referrer": the browser would then send «Origin: null» with the form, and
    # the CSRF check would refuse it).
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response
