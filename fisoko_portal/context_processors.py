from django.conf import settings


def support(request):
    """The one support address, for the footer and every page that says where to write."""
    return {"support_email": settings.SUPPORT_EMAIL}
