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


class ForwardedProtoMiddleware:
    """Drops X-Forwarded-Proto unless the request comes from ``settings.TRUSTED_PROXY``.

    ``SECURE_PROXY_SSL_HEADER`` makes Django believe that header from anyone. A client that reaches
    a web process past the proxy (another host on its network, a port opened by mistake) could then
    claim HTTPS over plain HTTP: no redirect to HTTPS, and the session cookie marked ``Secure`` sent
    in the clear. First in MIDDLEWARE, so that nothing reads the header before it is judged.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.TRUSTED_PROXY or request.META.get("REMOTE_ADDR") != settings.TRUSTED_PROXY:
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        return self.get_response(request)
