import io
import re
import struct
import zipfile
import zlib

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFile

from helpdesk import previews, services, tasks
from helpdesk.models import Access, AttachmentDownload, Preview
from helpdesk.previews import PREVIEWABLE, TooLarge, preview_png, render_isolated
from tests.conftest import login_client
from tests.helpdesk.conftest import TICKET_DATA

MAX = (800, 1100)
TOO_LARGE = "Изображение слишком большое для просмотра, скачайте файл"
PREPARING = "Превью готовится"


def encoded(image, fmt, **params):
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    buf.seek(0)
    return buf


def landscape(mode="RGB"):
    """2000×1000, red on the left half, blue on the right."""
    image = Image.new("RGB", (2000, 1000), (200, 30, 30))
    ImageDraw.Draw(image).rectangle((1000, 0, 1999, 999), fill=(30, 30, 200))
    return image.convert(mode)


def a4_pdf():
    """A one-page A4-ish PDF (595×842 pt at 72 dpi) with a black rectangle in the upper left."""
    page = Image.new("RGB", (595, 842), "white")
    ImageDraw.Draw(page).rectangle((50, 50, 300, 200), fill="black")
    return encoded(page, "PDF", resolution=72)


def opened(png):
    assert png is not None
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    assert image.width <= MAX[0] and image.height <= MAX[1]
    return image


@pytest.mark.parametrize(
    ("fmt", "content_type", "mode"),
    [("PNG", "image/png", "RGB"), ("JPEG", "image/jpeg", "RGB"), ("GIF", "image/gif", "P")],
)
def test_image_becomes_png_thumbnail_within_max_size_keeping_aspect(fmt, content_type, mode):
    src = encoded(landscape(mode), fmt)

    image = opened(preview_png(src, content_type, max_size=MAX))

    assert image.width == 800
    assert image.height == pytest.approx(400, abs=2)
    assert image.mode == "RGB"
    red, blue = image.getpixel((100, 200)), image.getpixel((700, 200))
    assert red[0] > 150 and red[2] < 80
    assert blue[2] > 150 and blue[0] < 80
    assert not src.closed


def test_gif_preview_is_first_frame():
    frames = [Image.new("RGB", (300, 200), c).convert("P") for c in ("green", "black")]
    src = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])

    image = opened(preview_png(src, "image/gif"))

    r, g, b = image.getpixel((150, 100))
    assert g > 100 and r < 50 and b < 50


def test_jpeg_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    src = encoded(landscape(), "JPEG", exif=exif)

    image = opened(preview_png(src, "image/jpeg"))

    assert image.size == (550, 1100)  # shown upright: 1000×2000 fitted into 800×1100
    top, bottom = image.getpixel((275, 100)), image.getpixel((275, 1000))
    assert top[0] > 150 and bottom[2] > 150  # turned clockwise: the red left half is now on top


def test_pdf_first_page_is_rendered_to_fit_max_size_and_not_blank():
    src = a4_pdf()

    image = opened(preview_png(src, "application/pdf", max_size=MAX))

    # 595×842 pt scaled by min(800/595, 1100/842) = 1.306...: height is the limit.
    assert image.height in (1099, 1100)
    assert image.width / image.height == pytest.approx(595 / 842, rel=0.01)
    scale = image.height / 842
    inside = (round(175 * scale), round(125 * scale))  # centre of the rectangle
    outside = (round(450 * scale), round(600 * scale))
    assert max(image.getpixel(inside)) < 60
    assert min(image.getpixel(outside)) > 200
    assert not src.closed


def test_content_type_parameters_and_case_are_ignored():
    assert opened(preview_png(a4_pdf(), "Application/PDF; charset=binary")) is not None


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "image/gif", "application/pdf"])
def test_broken_bytes_give_none(content_type):
    assert preview_png(io.BytesIO(b"\x89PNG\r\n\x1a\n not really an image %PDF-1.4"), content_type) is None


def test_truncated_pdf_gives_none():
    data = a4_pdf().getvalue()
    assert preview_png(io.BytesIO(data[: len(data) // 2]), "application/pdf") is None


def test_file_of_another_kind_than_its_label_gives_none():
    assert preview_png(a4_pdf(), "image/png") is None
    assert preview_png(encoded(landscape(), "PNG"), "application/pdf") is None


def test_zip_gives_none():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("letter.txt", "hello")
    buf.seek(0)
    assert "application/zip" not in PREVIEWABLE
    assert preview_png(buf, "application/zip") is None


@pytest.mark.parametrize("limit", [900_000, 1_500_000])  # error above 2×limit, warning above limit
def test_image_over_pillows_own_limit_is_too_large(monkeypatch, caplog, limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    src = encoded(landscape(), "PNG")  # 2,000,000 pixels

    with pytest.raises(TooLarge):
        preview_png(src, "image/png")
    assert "image/png" in caplog.text


def test_failure_is_logged_with_content_type_only(caplog):
    secret = b"%PDF-1.4 SECRET-CONTENT"
    assert preview_png(io.BytesIO(secret), "application/pdf") is None

    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "application/pdf" in caplog.text
    assert "SECRET" not in caplog.text


# --- Images too large to decode --------------------------------------------------------------


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def claimed_png(width, height):
    """A valid PNG of a few dozen bytes whose header claims ``width``×``height`` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail if this process decodes an image, or opens one at all (a child process may)."""
    opened = []

    def refuse(*args, **kwargs):
        raise AssertionError("an image was decoded")

    real_open = Image.open
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    return opened


@pytest.mark.parametrize("size", [(20_000, 20_000), (6_325, 6_325), (40_000_001, 1)])
def test_image_over_40_megapixels_is_refused_by_its_header(no_decoding, size):
    with pytest.raises(TooLarge):
        preview_png(io.BytesIO(claimed_png(*size)), "image/png")


def test_image_of_40_megapixels_is_not_too_large_by_header():
    # Its data is a few bytes, so it fails to decode: the limit itself let it through.
    assert preview_png(io.BytesIO(claimed_png(8_000, 5_000)), "image/png") is None


def test_isolated_render_reports_too_large_and_ready():
    assert render_isolated(claimed_png(20_000, 20_000), "image/png") == ("too_large", None)
    status, png = render_isolated(encoded(landscape(), "PNG").getvalue(), "image/png")
    assert status == "ready"
    assert opened(png).size == (800, 400)


def test_memory_limit_kills_a_runaway_render_and_the_caller_lives_on():
    # 36 megapixels, under the cap: decoding takes over 100 MB, more than this child may have.
    data = encoded(Image.new("RGB", (6_000, 6_000), (10, 200, 30)), "PNG").getvalue()

    assert render_isolated(data, "image/png", memory_limit=128 * 1024 * 1024) == ("failed", None)

    status, png = render_isolated(data, "image/png")  # the same file with the usual limit
    assert status == "ready"
    assert opened(png).getpixel((10, 10)) == (10, 200, 30)


def test_a_render_that_runs_too_long_is_stopped():
    assert render_isolated(a4_pdf().getvalue(), "application/pdf", timeout=0.001) == ("failed", None)


# --- The request page: rendered once, in a worker, and kept ------------------------------------


@pytest.fixture
def op(operator):
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    return login_client(operator)


def file_ticket(django_capture_on_commit_callbacks, name, content, content_type):
    with django_capture_on_commit_callbacks(execute=True):
        upload = SimpleUploadedFile(name, content, content_type=content_type)
        return services.ticket_submit(data=TICKET_DATA, files=[(upload, name, content_type)])


def page(client, ticket):
    return client.get(f"/admin/helpdesk/ticket/{ticket.pk}/change/").content.decode()


def preview_url(attachment):
    return f"/admin/helpdesk/ticket/attachment/{attachment.pk}/preview/"


@pytest.fixture
def renders(monkeypatch):
    """Count the renders (each one a child process) without changing what they do."""
    calls = []
    real = previews.render_isolated

    def counting(data, content_type, **kwargs):
        calls.append(content_type)
        return real(data, content_type, **kwargs)

    monkeypatch.setattr(previews, "render_isolated", counting)
    return calls


@pytest.mark.django_db
def test_huge_png_is_not_decoded_by_the_web_process_and_shows_the_placeholder(
    op, django_capture_on_commit_callbacks, no_decoding
):
    ticket = file_ticket(
        django_capture_on_commit_callbacks, "photo.png", claimed_png(20_000, 20_000), "image/png"
    )
    attachment = ticket.attachments.get()

    html = page(op, ticket)

    assert TOO_LARGE in html
    assert preview_url(attachment) not in html
    assert op.get(preview_url(attachment)).status_code == 404
    attachment.refresh_from_db()
    assert attachment.preview_status == Preview.TOO_LARGE and not attachment.preview
    assert no_decoding == []  # the renderer ran in a child process only


@pytest.mark.django_db
def test_preview_is_rendered_once_and_then_served_as_stored(op, django_capture_on_commit_callbacks, renders):
    png = encoded(landscape(), "PNG").getvalue()
    ticket = file_ticket(django_capture_on_commit_callbacks, "photo.png", png, "image/png")
    attachment = ticket.attachments.get()
    assert renders == []  # filing a request renders nothing

    first_page, second_page = page(op, ticket), page(op, ticket)
    first, second = op.get(preview_url(attachment)), op.get(preview_url(attachment))

    assert renders == ["image/png"]
    assert re.search(rf'<img src="{re.escape(preview_url(attachment))}"', first_page)
    assert re.search(rf'<img src="{re.escape(preview_url(attachment))}"', second_page)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert opened(first.content).size == (800, 400)


@pytest.mark.django_db
def test_page_says_the_preview_is_being_prepared_until_a_worker_renders_it(
    op, django_capture_on_commit_callbacks, monkeypatch, renders
):
    queued = []
    monkeypatch.setattr(tasks.render_preview, "delay", queued.append)  # the broker's edge: nothing runs
    ticket = file_ticket(
        django_capture_on_commit_callbacks, "scan.pdf", a4_pdf().getvalue(), "application/pdf"
    )
    attachment = ticket.attachments.get()

    html = page(op, ticket)
    page(op, ticket)  # reloaded while the worker is busy: not queued again

    assert PREPARING in html and preview_url(attachment) not in html
    assert queued == [attachment.pk]
    assert op.get(preview_url(attachment)).status_code == 404
    assert renders == []  # the web process never renders

    tasks.render_preview(attachment.pk)  # what the worker does with the queued id

    assert preview_url(attachment) in page(op, ticket)
    assert op.get(preview_url(attachment)).status_code == 200
    assert renders == ["application/pdf"]


@pytest.mark.django_db
def test_previews_are_no_store_and_audited(op, operator, django_capture_on_commit_callbacks):
    ticket = file_ticket(
        django_capture_on_commit_callbacks, "scan.pdf", a4_pdf().getvalue(), "application/pdf"
    )
    attachment = ticket.attachments.get()
    page(op, ticket)

    response = op.get(preview_url(attachment))

    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    seen = AttachmentDownload.objects.get()
    assert (seen.user, seen.attachment, seen.kind) == (operator, attachment, Access.PREVIEW)


def pdf_of_pages(count):
    """An A4 PDF of ``count`` pages, page i with a black band i × 40 pt down from the top."""
    pages = []
    for i in range(count):
        page = Image.new("RGB", (595, 842), "white")
        ImageDraw.Draw(page).rectangle((50, 40 * (i + 1), 545, 40 * (i + 1) + 20), fill="black")
        pages.append(page)
    return encoded(pages[0], "PDF", resolution=72, save_all=True, append_images=pages[1:])


def test_every_page_of_a_pdf_is_previewed_one_under_another():
    image = Image.open(io.BytesIO(preview_png(pdf_of_pages(3), "application/pdf", max_size=MAX)))
    page_height = image.height - 2 * previews.PAGE_GAP
    assert image.width <= MAX[0] and 3 * 1098 <= page_height <= 3 * MAX[1]
    # Each page's band is where that page put it: the third page is not a copy of the first.
    one_page = page_height // 3
    for i in range(3):
        top = i * (one_page + previews.PAGE_GAP)
        band = top + round((40 * (i + 1) + 10) * one_page / 842)
        assert image.getpixel((image.width // 2, band))[0] < 60, i


def test_a_long_pdf_is_previewed_up_to_ten_pages():
    image = Image.open(io.BytesIO(preview_png(pdf_of_pages(12), "application/pdf", max_size=MAX)))
    pages = (image.height + previews.PAGE_GAP) / (1100 + previews.PAGE_GAP)
    assert previews.MAX_PDF_PAGES == 10 and round(pages) == 10
