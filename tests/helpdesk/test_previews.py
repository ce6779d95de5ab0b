import io
import zipfile

import pytest
from PIL import Image, ImageDraw

from helpdesk.previews import PREVIEWABLE, preview_png

MAX = (800, 1100)


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
def test_decompression_bomb_gives_none(monkeypatch, caplog, limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    src = encoded(landscape(), "PNG")  # 2,000,000 pixels

    assert preview_png(src, "image/png") is None
    assert "image/png" in caplog.text


def test_failure_is_logged_with_content_type_only(caplog):
    secret = b"%PDF-1.4 SECRET-CONTENT"
    assert preview_png(io.BytesIO(secret), "application/pdf") is None

    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "application/pdf" in caplog.text
    assert "SECRET" not in caplog.text
