"""Small PNG previews of uploaded attachments (images and a PDF's first page) for the admin."""

import io
import logging
import warnings

import pypdfium2 as pdfium
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

PREVIEWABLE = {"image/png", "image/gif", "image/jpeg", "application/pdf"}
# Only the decoder matching the (content-sniffed) type may run: no exotic Pillow plugins.
_PIL_FORMATS = {"image/png": "PNG", "image/gif": "GIF", "image/jpeg": "JPEG"}


def preview_png(fileobj, content_type, *, max_size=(800, 1100)) -> bytes | None:
    """A PNG preview of an image, or of a PDF's first page; None when the type has no preview
    or the file cannot be read (a broken or hostile file must not raise)."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in PREVIEWABLE:
        return None
    try:
        fileobj.seek(0)
        if content_type == "application/pdf":
            image = _render_pdf(fileobj.read(), max_size)
        else:
            image = _load_image(fileobj, _PIL_FORMATS[content_type], max_size)
        image.thumbnail(max_size)  # pdfium rounds sizes up: make sure the result fits
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()
    except Exception as exc:  # broken, encrypted, hostile or bomb: no preview, never an error page
        logger.warning("No preview for a %s attachment (%s)", content_type, type(exc).__name__)
        return None


def _load_image(fileobj, pil_format, max_size):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(fileobj, formats=[pil_format])  # header only; raises for bombs
    # catch_warnings is not thread-safe, so repeat Pillow's check rather than rely on it alone.
    if Image.MAX_IMAGE_PIXELS and image.width * image.height > Image.MAX_IMAGE_PIXELS:
        raise Image.DecompressionBombError(f"{image.width}x{image.height} pixels")
    image.draft("RGB", (max(max_size), max(max_size)))  # JPEG: decode at a reduced scale
    image = ImageOps.exif_transpose(image).convert("RGB")  # GIF: the first frame
    image.thumbnail(max_size)
    return image


def _render_pdf(data, max_size):
    document = pdfium.PdfDocument(data)  # encrypted or broken: PdfiumError
    try:
        page = document[0]
        try:
            width, height = page.get_size()  # points, /Rotate applied
            scale = min(max_size[0] / width, max_size[1] / height)
            bitmap = page.render(scale=scale)
            try:
                return bitmap.to_pil().convert("RGB")  # convert copies out of pdfium's buffer
            finally:
                bitmap.close()
        finally:
            page.close()
    finally:
        document.close()
