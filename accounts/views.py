from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.debug import sensitive_post_parameters

from . import services
from .forms import IssuedPasswordReplaceForm, LoginForm, OwnPasswordChangeForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if not form.cleaned_data["remember"]:
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
    """django-axes' lockout response: a Russian page with 429 Too Many Requests."""
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
