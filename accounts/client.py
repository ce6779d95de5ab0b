import ipaddress

from django.conf import settings


def client_ip(request):
    """The client's address for throttling and the login lockout.

    ``REMOTE_ADDR`` — unless the request comes from ``settings.TRUSTED_PROXY``: then the last
    address in X-Forwarded-For, the one that proxy appended. Anything a client writes into that
    header itself stands before it and is never read, so it cannot be spoofed.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    if not settings.TRUSTED_PROXY or remote != settings.TRUSTED_PROXY:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(forwarded))
    except ValueError:
        return remote
