"""Turning an uploaded file into an image fit for mail, or refusing it.

Pillow decides what the file is (never its name or the browser's type), and only JPEG,
PNG, GIF and WebP are opened at all. The pixels are re-encoded into a fresh file, so no
EXIF (GPS position, camera serial), XMP, ICC profile or comment survives, and resized to
at most ``MAX_WIDTH`` pixels wide: twice the 600 px of the mail, sharp on dense screens.

Animated images are refused: Outlook on Windows shows only their first frame, and
re-encoding every frame multiplies the work by a frame count that a small file can make
huge. WebP becomes JPEG (or PNG when it has transparency): many mail programs can't
show WebP.
"""

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_WIDTH = 1200
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif"}
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
FILENAME_JUNK = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILENAME = 80


class ImageRefused(Exception):
    """The file is not an image we keep; ``code`` names why (see ``library.MESSAGES``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    format: str
    content_type: str
    width: int
    height: int
    sha256: str


def clean_image(data: bytes, max_bytes: int, max_pixels: int) -> CleanImage:
    """The upload re-encoded without metadata and at most ``MAX_WIDTH`` wide.

    Raises ``ImageRefused`` for an empty or too large file, anything but a still JPEG, PNG,
    GIF or WebP, a damaged file, or more than ``max_pixels`` pixels (checked from the
    header, before any pixel is decoded: a small PNG can unpack to gigabytes).
    """
    if not data:
        raise ImageRefused("empty")
    if len(data) > max_bytes:
        raise ImageRefused("too_large")
    if _looks_like_svg(data):
        raise ImageRefused("svg")
    try:
        _verify(data, max_pixels)
        image = _open(data, max_pixels)
        source_format = image.format
        if source_format == "JPEG":
            # Decode a large photo at a reduced scale (1/2, 1/4, 1/8) that still leaves both
            # sides at least MAX_WIDTH, whichever way it turns: less memory and time.
            image.draft("RGB", (MAX_WIDTH, MAX_WIDTH))
        image.load()
        image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as error:
        # Pillow's own limit, checked in ``open``; ours (``max_pixels``) is lower by default
        # and refuses before Pillow's warning would matter.
        raise ImageRefused("too_many_pixels") from error
    except UnidentifiedImageError as error:
        raise ImageRefused("damaged" if _has_image_signature(data) else "not_an_image") from error
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise ImageRefused("damaged") from error
    if image.width > MAX_WIDTH:
        height = max(1, round(image.height * MAX_WIDTH / image.width))
        image = _resizable(image).resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
    output_format, image = _for_mail(image, source_format)
    encoded = _encode(image, output_format)
    return CleanImage(
        data=encoded,
        format=output_format,
        content_type=CONTENT_TYPES[output_format],
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


def _has_image_signature(data: bytes) -> bool:
    """Starts like a file of an accepted format (so one Pillow can't read is damaged)."""
    return data.startswith(IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _looks_like_svg(data: bytes) -> bool:
    """Markup with an ``<svg`` element near its start: refused with its own message."""
    head = data[:4096].lstrip().lower()
    return head.startswith(b"<") and b"<svg" in head


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image opened from its header only, refused if too big or animated."""
    image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRefused("damaged")
    if width * height > max_pixels:
        raise ImageRefused("too_many_pixels")
    if getattr(image, "is_animated", False):
        raise ImageRefused("animated")
    return image


def _verify(data: bytes, max_pixels: int) -> None:
    """Pillow's integrity check (chunk checksums in a PNG); the image can't be used after."""
    _open(data, max_pixels).verify()


def _resizable(image: Image.Image) -> Image.Image:
    """Palette and 1-bit images resize badly (nearest neighbour): resample in colour."""
    if image.mode in ("P", "1", "LA", "PA") or image.mode.startswith("I"):
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def _for_mail(image: Image.Image, source_format: str) -> tuple[str, Image.Image]:
    """The format to send (WebP becomes JPEG or PNG) and the image in a mode it stores."""
    output_format = source_format
    if source_format == "WEBP":
        output_format = "PNG" if _has_alpha(image) else "JPEG"
    if output_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif output_format == "PNG" and image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    elif output_format == "GIF" and image.mode not in ("P", "L", "1"):
        image = image.convert("RGBA").quantize(colors=255, method=Image.Quantize.FASTOCTREE)
    return output_format, image


def _encode(image: Image.Image, output_format: str) -> bytes:
    """A new file from the pixels alone: only the transparency of a palette is carried."""
    kept = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.info = {}
    out = io.BytesIO()
    if output_format == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif output_format == "PNG":
        image.save(out, "PNG", optimize=True, **kept)
    else:
        image.save(out, "GIF", optimize=True, **kept)
    return out.getvalue()


def safe_filename(name: str | None, output_format: str) -> str:
    """An ASCII name for the public URL, with the extension of what is actually stored."""
    stem = (name or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = FILENAME_JUNK.sub("-", ascii_stem).strip(".-_")[:MAX_FILENAME].strip(".-_")
    return (cleaned or "image").lower() + EXTENSIONS[output_format]
