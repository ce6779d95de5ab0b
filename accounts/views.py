from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from . import second_factor, services
from .forms import IssuedPasswordReplaceForm, LoginForm, OwnPasswordChangeForm, StaffCodeForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # Staff sessions are short whatever the box says (set at login, see accounts/signals.py).
        if not form.cleaned_data["remember"] and not form.get_user().is_staff:
            self.request.session.set_expiry(0)  # ends when the browser closes
        return response

    def get_default_redirect_url(self):
        if self.request.user.is_staff:
            return resolve_url("admin:index")
        return super().get_default_redirect_url()


def root(request):
    """`/`: the cabinet for a logged-in user, the login page for everyone else."""
    if request.user.is_authenticated:
        return redirect("admin:index" if request.user.is_staff else "cabinet:home")
    return redirect("login")


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout response: a Russian page with 429 Too Many Requests.

    Also the answer to an attempt that must wait (``login_budget.LoginBudgetBackend``): then the page
    says how many seconds are left, and so does Retry-After.
    """
    wait = getattr(request, "login_wait", None)
    if wait:
        response = render(request, "accounts/login_wait.html", {"wait": wait}, status=429)
        response["Retry-After"] = str(wait.seconds)
        return response
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def password_set(request):
    """Choose one's own password: the forced change after a password issued by support, or any later one.

    Only the forced change skips the current password; every change emails the account's address.
    """
    issued = request.user.must_change_password
    if request.method == "POST":
        if issued:
            form = IssuedPasswordReplaceForm(request.user, request.POST)
        else:
            form = OwnPasswordChangeForm(request.user, request.POST, request=request)
        if form.is_valid():
            services.password_change(user=form.user, password=form.cleaned_data["new_password1"])
            update_session_auth_hash(request, form.user)
            return redirect("root")
    else:
        form = IssuedPasswordReplaceForm(request.user) if issued else OwnPasswordChangeForm(request.user)
    return render(request, "accounts/password_set.html", {"form": form})


def _next_url(request):
    url = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else resolve_url("admin:index")


def _verified(request, device):
    otp_login(request, device)
    request.session.cycle_key()  # a new session key for the session that now has full rights


@never_cache
@sensitive_post_parameters("code")
@login_required
def staff_otp(request):
    """«Код подтверждения»: the second step of a staff login."""
    user = request.user
    if not user.is_staff:
        return redirect("root")
    if not second_factor.is_enrolled(user):
        return redirect(f"{resolve_url('staff_otp_setup')}?{request.GET.urlencode()}")
    if user.is_verified():
        return redirect(_next_url(request))
    form = StaffCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, error = second_factor.code_verify(user=user, code=form.cleaned_data["code"])
        if device is not None:
            _verified(request, device)
            if isinstance(device, StaticDevice):
                left = second_factor.recovery_codes_left(user)
                messages.warning(request, f"Вы вошли по коду восстановления. Неиспользованных кодов: {left}.")
            return redirect(_next_url(request))
        form.add_error("code", error)
    return render(request, "accounts/staff_otp.html", {"form": form, "next": _next_url(request)})


@never_cache
@sensitive_post_parameters("code")
@login_required
def staff_otp_setup(request):
    """Enrolment of a staff account that has no second factor yet; the recovery codes are shown once."""
    user = request.user
    if not user.is_staff:
        return redirect("root")
    if second_factor.is_enrolled(user):  # a device is replaced only by a superuser deleting it
        return redirect(f"{resolve_url('staff_otp')}?{request.GET.urlencode()}")
    form = StaffCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        confirmed = second_factor.enrolment_confirm(
            user=user, code=form.cleaned_data["code"], session=request.session
        )
        if confirmed is not None:
            device, codes = confirmed
            _verified(request, device)
            context = {"codes": codes, "next": _next_url(request)}
            return render(request, "accounts/staff_otp_recovery.html", context)
        form.add_error("code", second_factor.WRONG_SETUP_CODE)
    device = second_factor.pending_device(user, request.session)
    context = {
        "form": form,
        "next": _next_url(request),
        "secret": second_factor.app_secret(device),
        "uri": device.config_url,
        "qr": second_factor.qr_data_uri(device),
    }
    return render(request, "accounts/staff_otp_setup.html", context)
