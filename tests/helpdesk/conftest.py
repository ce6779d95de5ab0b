import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

# A real, minimal one-page PDF.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n170\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def pdf(name="scan.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


# A school's request as services.ticket_submit takes it (what /apply/ passes on).
TICKET_DATA = {
    "organization_name": "ГБОУ «Школа № 1234»",
    "information_system": "fis_oko",
    "region_id": "77",
    "phone": "+79123456789",
    "email": "director@school1234.ru",
    "organization_type": "school",
    "login": "sch771234",
    "person_name": "Иванова Мария Петровна",
    "head_name": "Петров Пётр Петрович",
    "reason": "lost",
    "description": "Замена пароля",
}


# The operators' admin: the people and the filing that its test modules share.


@pytest.fixture
def locmem_sms(settings):
    from helpdesk.sms import locmem

    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def operator(operator):
    """The staff user of the story: a member of the operators' group, not a superuser."""
    from django.contrib.auth.models import Group

    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    return operator


@pytest.fixture
def op(operator):
    from tests.conftest import login_client

    return login_client(operator)


@pytest.fixture
def file_ticket(django_capture_on_commit_callbacks):
    """File a request as /apply/ does: one PDF scan, the confirmation email sent."""
    from helpdesk import services

    def file(content=PDF, **changes):
        with django_capture_on_commit_callbacks(execute=True):
            return services.ticket_submit(
                data={**TICKET_DATA, **changes}, files=[(pdf(content=content), "scan.pdf", "application/pdf")]
            )

    return file
