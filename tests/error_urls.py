"""The portal's URLs plus two that fail on purpose, for the tests of the error pages."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from fisoko_portal.urls import urlpatterns as portal_urls


def boom(request):
    raise RuntimeError("a bug")


def forbidden(request):
    raise PermissionDenied


urlpatterns = [*portal_urls, path("test-boom/", boom), path("test-forbidden/", forbidden)]
