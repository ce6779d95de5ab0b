from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from . import second_factor

# What an unverified staff session may still reach: the second-factor pages and the way out.
OPEN_TO_UNVERIFIED_STAFF = {"staff_otp", "staff_otp_setup", "logout", "admin:logout", "health"}


class StaffSecondFactorMiddleware:
    """Send a staff session that has not given its second factor to the code page (or to enrolment).

    After django-otp's OTPMiddleware, which tells whether the session is verified. Works for both
    ways in, /login/ and /admin/login/, which stay the password step (and django-axes with it).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # The open pages first: /health/ must answer without loading a session's user from the database.
        if request.resolver_match.view_name in OPEN_TO_UNVERIFIED_STAFF:
            return None
        user = request.user
        if not second_factor.required_for(user) or user.is_verified():
            return None
        target = "staff_otp" if second_factor.is_enrolled(user) else "staff_otp_setup"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
