from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.debug import sensitive_post_parameters

from .forms import LoginForm


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


@sensitive_post_parameters("new_password1", "new_password2")
@login_required
def password_set(request):
    """Choose one's own password; required after logging in with one issued by support."""
    if request.method == "POST":
        form = SetPasswordForm(request.user, request.POST)
        if form.is_valid():
            request.user.must_change_password = False
            form.save()
            update_session_auth_hash(request, form.user)
            return redirect("root")
    else:
        form = SetPasswordForm(request.user)
    return render(request, "accounts/password_set.html", {"form": form})
