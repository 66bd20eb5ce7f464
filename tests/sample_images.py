"""Image files for the media library's tests, made with Pillow at test time."""

import io

from PIL import Image

CAMERA = "SpyCam 3000"
GPS_LATITUDE = (52.0, 31.0, 12.0)


def encoded(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def photo_with_gps(width: int = 3000, height: int = 2000) -> bytes:
    """A JPEG as a phone takes it: EXIF with the camera, its position and an orientation
    (6: turn 90° clockwise to show it upright), a comment and an ICC profile."""
    image = Image.effect_noise((width, height), 40).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = CAMERA
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: GPS_LATITUDE, 3: "E", 4: (13.0, 24.0, 0.0)})
    icc = b"\0" * 128  # opaque to Pillow: enough to see whether it is copied
    return encoded(image, "JPEG", exif=exif, comment=b"taken at the safe house", icc_profile=icc)


def png(width: int = 640, height: int = 480, mode: str = "RGBA") -> bytes:
    return encoded(Image.new(mode, (width, height), (10, 120, 80, 200)[: len(mode)]), "PNG")


def webp(width: int = 1600, height: int = 900) -> bytes:
    return encoded(Image.new("RGB", (width, height), (200, 60, 20)), "WEBP")


def gif(width: int = 300, height: int = 200) -> bytes:
    return encoded(Image.new("P", (width, height), 4), "GIF")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "green", "blue")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def decompression_bomb() -> bytes:
    """20,000 × 20,000 pixels of one bit: 400 million pixels in a few dozen kilobytes."""
    return encoded(Image.new("1", (20_000, 20_000)), "PNG")


def corrupt_png() -> bytes:
    """A PNG whose compressed pixels have one byte changed (its checksum no longer fits)."""
    data = bytearray(encoded(Image.effect_noise((200, 200), 50).convert("RGB"), "PNG"))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def renamed_executable() -> bytes:
    """The start of a Windows program (an MZ header), as if saved as photo.jpg."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 2048


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>fetch('/admin/users')</script><rect width='10' height='10'/></svg>"
)
