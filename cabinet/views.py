from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from directory import credentials as access
from directory.models import CredentialHandover

from .models import Material, MaterialFile, Tab
from .selectors import accounts_visible_to, materials_for_tab, search_accounts
from .tabs import ACCOUNTS, material_tabs, nav_tabs

# What the account list shows of each account (and the codes its organization is found by).
LISTED_FIELDS = ["username", "role", "is_active", "region_id", "school_code", "municipality_code"]


def cabinet_user_required(view):
    """Logged-in cabinet accounts only; staff belong in the admin."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_cabinet_user:
            return redirect("admin:index")
        if request.user.must_change_password:
            return redirect("password_set")
        return view(request, *args, **kwargs)

    return wrapper


def _render(request, template, active, status=200, **context):
    context.update(tabs=nav_tabs(request.user.role), active_tab=active)
    return render(request, template, context, status=status)


def _page(request, items, per_page=None):
    paginator = Paginator(items, per_page or settings.CABINET_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


@cabinet_user_required
def home(request):
    materials = _page(request, materials_for_tab(request.user, Tab.HOME))
    return _render(request, "cabinet/home.html", Tab.HOME, materials=materials)


@cabinet_user_required
def tab(request, slug):
    if slug in (Tab.HOME, Tab.SUPPORT) or slug not in material_tabs(request.user.role):
        raise Http404
    from .procedure_views import procedure_panels  # it imports this module's helpers

    materials = _page(request, materials_for_tab(request.user, slug))
    return _render(
        request,
        "cabinet/tab.html",
        slug,
        materials=materials,
        title=Tab(slug).label,
        panels=procedure_panels(request.user, slug) if slug != Tab.ANALYTICS else [],
    )


@cabinet_user_required
def support(request):
    materials = _page(request, materials_for_tab(request.user, Tab.SUPPORT))
    return _render(request, "cabinet/support.html", Tab.SUPPORT, materials=materials)


@cabinet_user_required
def accounts(request):
    query = request.GET.get("q", "")[:100]
    found = search_accounts(accounts_visible_to(request.user), query).only(*LISTED_FIELDS)
    return _render(
        request,
        "cabinet/accounts.html",
        ACCOUNTS,
        accounts=_page(request, found),
        query=query,
        may_issue=access.may_issue(request.user),
    )


@cabinet_user_required
def account_detail(request, username):
    account = get_object_or_404(accounts_visible_to(request.user).select_related("region"), username=username)
    return _render(request, "cabinet/account_detail.html", ACCOUNTS, account=account)


@cabinet_user_required
def material_file(request, pk):
    """Serve a material's file to a user who may see the material, as a download."""
    user = request.user
    attachment = get_object_or_404(
        MaterialFile.objects.select_related("material"),
        pk=pk,
        material__in=Material.objects.visible_to(user),
    )
    if attachment.material.tab not in material_tabs(user.role):
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=attachment.filename)


def _key_cookie(pk):
    return f"credentials_key_{pk}"


def _handover(request, pk):
    if not access.may_issue(request.user):
        raise Http404
    return get_object_or_404(CredentialHandover, pk=pk, coordinator=request.user)


@cabinet_user_required
def credentials(request):
    """«Реквизиты доступа»: pick schools; the passwords are made in the background."""
    if not access.may_issue(request.user):
        raise Http404
    if request.method == "POST":
        try:
            handover, private_key = access.handover_request(
                coordinator=request.user,
                scope=request.POST.get("scope", ""),
                municipality_code=request.POST.get("municipality", ""),
                codes=request.POST.get("codes", "")[:100_000],
            )
        except access.CredentialsRefused as refusal:
            messages.error(request, str(refusal))
        else:
            response = redirect("cabinet:credentials_detail", handover.pk)
            # The private key stays in this browser only: the server keeps the public half.
            response.set_cookie(
                _key_cookie(handover.pk),
                private_key,
                max_age=settings.CREDENTIALS_FILE_SECONDS + 3600,
                path=reverse("cabinet:credentials_detail", args=[handover.pk]),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Strict",
            )
            return response
    return _render(
        request,
        "cabinet/credentials.html",
        ACCOUNTS,
        municipalities=access.municipalities_of(request.user).order_by("code"),
        handovers=CredentialHandover.objects.filter(coordinator=request.user)[:20],
    )


@cabinet_user_required
def credentials_detail(request, pk):
    handover = _handover(request, pk)
    has_key = _key_cookie(pk) in request.COOKIES
    return _render(request, "cabinet/credentials_detail.html", ACCOUNTS, handover=handover, has_key=has_key)


@cabinet_user_required
def credentials_progress(request, pk):
    handover = _handover(request, pk)
    finished = handover.status not in (CredentialHandover.Status.PENDING, CredentialHandover.Status.RUNNING)
    return JsonResponse(
        {"progress": handover.progress, "status_display": handover.get_status_display(), "finished": finished}
    )


@cabinet_user_required
@require_POST
def credentials_file(request, pk):
    """The .xlsx, once; POST so that no prefetch or crawler spends the one download."""
    handover = _handover(request, pk)
    try:
        data = access.handover_download(
            handover_id=handover.pk,
            coordinator=request.user,
            private_key=request.COOKIES.get(_key_cookie(pk)),
        )
    except access.CredentialsRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("cabinet:credentials_detail", pk)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="rekvizity-{pk}.xlsx"'
    response["Cache-Control"] = "no-store"
    response.delete_cookie(
        _key_cookie(pk), path=reverse("cabinet:credentials_detail", args=[pk]), samesite="Strict"
    )
    return response
