"""Image files for the media tests, made with Pillow: photos with EXIF (GPS, orientation), bombs, fakes."""
from __future__ import annotations

import io

from PIL import Image, ImageCms, ImageDraw

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(width: int = 2000, height: int = 1500, *, fmt: str = "JPEG", orientation: int | None = None,
          gps: bool = False, icc: bytes | None = None, mode: str = "RGB", **save) -> bytes:
    """A picture with some structure (so encoders do real work), optionally with EXIF and a profile."""
    image = Image.linear_gradient("L").resize((width, height)).convert(mode if mode != "P" else "RGB")
    draw = ImageDraw.Draw(image)
    for i in range(0, width, max(1, width // 12)):
        draw.rectangle([i, height // 4, i + width // 24, height // 2], fill=(200, 40, 40) if mode == "RGB" else 120)
    if mode == "P":
        image = image.convert("P")
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    buffer = io.BytesIO()
    options = dict(save)
    if fmt in ("JPEG", "WEBP", "PNG"):
        options["exif"] = exif.tobytes()
    if icc:
        options["icc_profile"] = icc
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(width=2000, height=1500, **kwargs) -> bytes:
    return photo(width, height, fmt="JPEG", quality=85, **kwargs)


def png(width=800, height=600, **kwargs) -> bytes:
    return photo(width, height, fmt="PNG", **kwargs)


def animated_gif(width=400, height=300, frames=4) -> bytes:
    images = []
    for n in range(frames):
        frame = Image.new("RGB", (width, height), (40 * n, 80, 160))
        ImageDraw.Draw(frame).ellipse([n * 20, 20, n * 20 + 80, 100], fill=(255, 255, 0))
        images.append(frame)
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def bomb(width=10_000, height=10_000) -> bytes:
    """A few kilobytes of PNG that would decode to ``width * height`` pixels."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def polyglot() -> bytes:
    """A valid GIF whose comment extension carries a script (a GIF/JavaScript polyglot)."""
    gif = bytearray(animated_gif(frames=1))
    comment = b"\x21\xfe" + bytes([30]) + b"<script>alert(1)</script>     "[:30] + b"\x00"
    return bytes(gif[:-1]) + comment + b"\x3b"


def exif_of(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif())


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size
