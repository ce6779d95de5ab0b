"""The portal's URLs plus the floors the figures are compared with: views doing the least a page can."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template import engines
from django.urls import path

from fisoko_portal.urls import urlpatterns as portal

TRIVIAL = engines["django"].from_string("<p>{{ count }} файлов, {{ size }} байт</p>")


@login_required
def base_page(request):
    """The cabinet's floor: a logged-in request that renders the base template and nothing else."""
    return render(request, "base.html")


def upload(request):
    """The submission's floor: parses the same multipart upload (to temporary files) and says so."""
    files = request.FILES.getlist("attachments")
    return HttpResponse(TRIVIAL.render({"count": len(files), "size": sum(f.size for f in files)}, request))


urlpatterns = [
    path("bench/base/", base_page),
    path("bench/upload/", upload),
    *portal,
]
