"""PNG previews of uploaded attachments for the admin: an image, or a PDF's pages one under another.

No Django here: ``render_isolated`` runs this module as a child process (``python -m
helpdesk.previews``) under a memory limit, so a hostile file that makes a decoder allocate without
bound kills that child, never the worker or the web process that asked.
"""

import io
import logging
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

PREVIEWABLE = {"image/png", "image/gif", "image/jpeg", "application/pdf"}
# Only the decoder matching the (content-sniffed) type may run: no exotic Pillow plugins.
_PIL_FORMATS = {"image/png": "PNG", "image/gif": "GIF", "image/jpeg": "JPEG"}
# 40 megapixels decode to 120 MB of RGB: a phone photo or an A4 scan at 600 dpi is well under
# that. Pillow's own limit (89 Mpx, a warning; 179 Mpx, an error) lets through images several
# times larger, and a 40 MB PNG can claim that many pixels.
MAX_PIXELS = 40_000_000
MEMORY_LIMIT = 512 * 1024 * 1024  # address space of the rendering child
TIMEOUT = 60  # seconds; a PDF page can be made to render for ever
_TOO_LARGE_EXIT = 3
# A letter is a page or two; a scan of a whole file is downloaded instead. 10 pages of 800×1100 are
# 26 MB of RGB while stacking, well within the child's limit.
MAX_PDF_PAGES = 10
PAGE_GAP = 16  # grey pixels between pages, so that the operator sees where one ends


class TooLarge(Exception):
    """The image has more pixels than a preview may decode."""


def preview_png(fileobj, content_type, *, max_size=(800, 1100)) -> bytes | None:
    """A PNG preview of an image, or of a PDF's first MAX_PDF_PAGES pages, each fitted to ``max_size``
    and stacked top to bottom; None when the type has no preview
    or the file cannot be read (a broken or hostile file must not raise). An image of more than
    MAX_PIXELS (by its header: nothing is decoded) raises TooLarge, for a message that says so."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in PREVIEWABLE:
        return None
    try:
        fileobj.seek(0)
        if content_type == "application/pdf":
            image = _render_pdf(fileobj.read(), max_size)
        else:
            image = _load_image(fileobj, _PIL_FORMATS[content_type], max_size)
            image.thumbnail(max_size)
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()
    except (TooLarge, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        logger.warning("No preview for a %s attachment: too large (%s)", content_type, exc)
        raise TooLarge(str(exc)) from None
    except Exception as exc:  # broken, encrypted, hostile or bomb: no preview, never an error page
        logger.warning("No preview for a %s attachment (%s)", content_type, type(exc).__name__)
        return None


def _load_image(fileobj, pil_format, max_size):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(fileobj, formats=[pil_format])  # header only; raises for bombs
    # catch_warnings is not thread-safe, so repeat Pillow's check rather than rely on it alone.
    if image.width * image.height > min(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_PIXELS):
        raise TooLarge(f"{image.width}x{image.height} pixels")
    image.draft("RGB", (max(max_size), max(max_size)))  # JPEG: decode at a reduced scale
    image = ImageOps.exif_transpose(image).convert("RGB")  # GIF: the first frame
    image.thumbnail(max_size)
    return image


def _render_pdf(data, max_size):
    document = pdfium.PdfDocument(data)  # encrypted or broken: PdfiumError
    try:
        count = min(len(document), MAX_PDF_PAGES)
        pages = [_render_page(document, index, max_size) for index in range(count)]
    finally:
        document.close()
    if not pages:
        raise ValueError("PDF without pages")
    width = max(page.width for page in pages)
    height = sum(page.height for page in pages) + PAGE_GAP * (len(pages) - 1)
    sheet = Image.new("RGB", (width, height), (160, 160, 160))
    top = 0
    for page in pages:
        sheet.paste(page, (0, top))
        top += page.height + PAGE_GAP
    return sheet


def _render_page(document, index, max_size):
    page = document[index]
    try:
        width, height = page.get_size()  # points, /Rotate applied
        scale = min(max_size[0] / width, max_size[1] / height)
        bitmap = page.render(scale=scale)
        try:
            image = bitmap.to_pil().convert("RGB")  # convert copies out of pdfium's buffer
        finally:
            bitmap.close()
    finally:
        page.close()
    image.thumbnail(max_size)  # pdfium rounds sizes up: make sure the page fits
    return image


def render_isolated(data, content_type, *, memory_limit=MEMORY_LIMIT, timeout=TIMEOUT):
    """Run ``preview_png`` on ``data`` in a child process limited to ``memory_limit`` bytes of
    address space. Returns ("ready", png), ("too_large", None) or ("failed", None): a child killed
    by the limit, a timeout or a crash of a decoder is a failed preview, not an error here.

    A fresh interpreter (not a fork) so that the limit, and a decoder's crash, stay in the child,
    and with an empty environment: a decoder exploited there finds no secret key or gateway password.
    """
    command = [sys.executable, "-m", "helpdesk.previews", content_type, str(memory_limit)]
    try:
        child = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=timeout,
            cwd=Path(__file__).resolve().parent.parent,
            env={},
            check=False,
        )
    except subprocess.TimeoutExpired:
        logger.warning("No preview for a %s attachment: rendering took over %s s", content_type, timeout)
        return "failed", None
    if child.returncode == 0 and child.stdout.startswith(b"\x89PNG"):
        return "ready", child.stdout
    if child.returncode == _TOO_LARGE_EXIT:
        return "too_large", None
    # The child logs only the type and the exception's class; its last line says which.
    last = child.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    logger.warning(
        "No preview for a %s attachment: renderer exited with %s %s", content_type, child.returncode, last[0]
    )
    return "failed", None


def _main(content_type, memory_limit):
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    try:
        png = preview_png(io.BytesIO(sys.stdin.buffer.read()), content_type)
    except TooLarge:
        return _TOO_LARGE_EXIT
    if png is None:
        return 1
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    sys.exit(_main(sys.argv[1], int(sys.argv[2])))
