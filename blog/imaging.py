"""Image checks and variants with Pillow: pure functions on bytes, no Flask, no storage, no database.

Accepted: JPEG, PNG, WebP and GIF up to :data:`MAX_BYTES` and :data:`MAX_PIXELS`. Everything else is
refused with an :class:`ImageRejected` whose ``code`` the services turn into a translated message.

Checks come in three depths, so each caller pays only for what it needs:

- :func:`check_prefix`: the first bytes (magic number, foreign formats) for an upload made straight to
  storage, before the app has the whole file;
- :func:`check_container`: the whole file without decoding pixels: magic number against the claimed
  type, truncation, data after the image's end (polyglots) and active content (HTML, script, PDF) in
  its metadata and comments;
- :func:`process`: full decode, then variants.

Animated GIF and WebP: the variants are stills of the first frame; the original file stays in storage
untouched (served only as a download, never inline). This keeps memory and time bounded by one frame.
"""
from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageCms, ImageOps

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
WIDTHS = (320, 640, 1024, 1600)
SQUARE = 256
WEBP_QUALITY = 80
JPEG_QUALITY = 82

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
CONTENT_TYPES = {content_type: fmt for fmt, content_type in FORMATS.items()}

# Pillow refuses outright above twice this (DecompressionBombError); between 1x and 2x it only warns,
# so :func:`_open` checks the exact limit itself and turns the warning into an error.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
_FOREIGN = (
    (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<svg[\s>]", re.I | re.S), "SVG"),
    (re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<script|<!--)", re.I), "HTML"),
    (re.compile(rb"^\s*<\?xml", re.I), "XML"),
    (re.compile(rb"^%PDF-"), "PDF"),
    (re.compile(rb"^PK\x03\x04"), "ZIP"),
    (re.compile(rb"^\x00\x00\x00.ftyp(heic|heix|mif1|avif)", re.S), "HEIC/AVIF"),
    (re.compile(rb"^II\*\x00|^MM\x00\*"), "TIFF"),
    (re.compile(rb"^BM"), "BMP"),
)
# Content a browser, PDF reader or interpreter would act on, hidden in an image's metadata or comments
# (data after the image's end is refused outright). Matched on lower-cased bytes: a pattern that
# starts with a literal is scanned at C speed.
_ACTIVE_TAGS = re.compile(rb"<(?:script|html|!doctype html|iframe|object|embed|\?php|svg[\s>]|\?xml )")
_ACTIVE_WORDS = (b"javascript:", b"%pdf-")
PREFIX_BYTES = 64 * 1024


class ImageRejected(ValueError):
    """The bytes are not an image we accept. ``code`` names why; ``params`` fill in the message."""

    def __init__(self, code: str, **params: str | int):
        self.code = code
        self.params = params
        super().__init__(code if not params else f"{code}: {params}")


@dataclass(frozen=True)
class Variant:
    name: str  # "w640" or "square"
    format: str  # "webp" or "jpeg"
    width: int
    height: int
    data: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return "image/webp" if self.format == "webp" else "image/jpeg"

    @property
    def extension(self) -> str:
        return "webp" if self.format == "webp" else "jpg"


@dataclass(frozen=True)
class Processed:
    format: str
    width: int  # after EXIF orientation
    height: int
    animated: bool
    variants: list[Variant]


def sniff(head: bytes) -> str | None:
    """The accepted format whose magic number ``head`` starts with, else ``None``."""
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def has_active_content(data: bytes) -> bool:
    lowered = data.lower()
    return bool(_ACTIVE_TAGS.search(lowered)) or any(word in lowered for word in _ACTIVE_WORDS)


def _foreign(head: bytes) -> str | None:
    for pattern, name in _FOREIGN:
        if pattern.search(head[:4096]):
            return name
    return None


def _format_of(head: bytes, claimed_type: str) -> str:
    claimed = CONTENT_TYPES.get((claimed_type or "").split(";")[0].strip().lower())
    if claimed is None:
        raise ImageRejected("unsupported_type")
    found = sniff(head)
    if found is None:
        foreign = _foreign(head)
        raise ImageRejected("foreign", kind=foreign) if foreign else ImageRejected("not_image")
    if found != claimed:
        raise ImageRejected("type_mismatch", claimed=claimed, found=found)
    return found


def check_size(size: int) -> None:
    if size <= 0:
        raise ImageRejected("empty")
    if size > MAX_BYTES:
        raise ImageRejected("too_large", limit=MAX_BYTES // (1024 * 1024))


def check_prefix(head: bytes, claimed_type: str, size: int) -> str:
    """Checks that need only the first bytes of a file of ``size`` bytes. Returns the format."""
    check_size(size)
    fmt = _format_of(head, claimed_type)
    first_scan = head.find(b"\xff\xda") if fmt == "JPEG" else -1
    if has_active_content(head[:first_scan] if first_scan > 0 else head):
        raise ImageRejected("active_content")
    return fmt


# Each parser returns where the image ends and its non-pixel bytes (headers, metadata, comments): the
# only places active content is looked for, so compressed pixel data cannot match by chance.

def _png_layout(data: bytes) -> tuple[int, list[bytes]]:
    pos, meta = 8, [data[:8]]
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind not in (b"IDAT", b"fdAT"):
            meta.append(data[pos:pos + 12 + length])
        pos += 12 + length
        if kind == b"IEND":
            return pos, meta
    raise ImageRejected("truncated")


def _gif_layout(data: bytes) -> tuple[int, list[bytes]]:
    pos = 13
    flags = data[10] if len(data) > 10 else 0
    if flags & 0x80:
        pos += 3 * (2 << (flags & 7))
    meta = [data[:pos]]
    while pos < len(data):
        block, start = data[pos], pos
        if block == 0x3B:  # trailer
            return pos + 1, meta
        if block == 0x21:  # extension (comment, application, ...): label, then sub-blocks
            pos += 2
        elif block == 0x2C:  # image descriptor, optional local palette, LZW minimum code size
            if pos + 10 > len(data):
                break
            local = data[pos + 9]
            pos += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0) + 1
        else:
            raise ImageRejected("corrupt")
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
        if block == 0x21:
            meta.append(data[start:pos])
    raise ImageRejected("truncated")


def _webp_layout(data: bytes) -> tuple[int, list[bytes]]:
    end = 8 + struct.unpack("<I", data[4:8])[0]
    if end > len(data):
        raise ImageRejected("truncated")
    pos, meta = 12, [data[:12]]
    while pos + 8 <= end:
        kind, length = struct.unpack("<4sI", data[pos:pos + 8])
        if kind not in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF"):
            meta.append(data[pos:pos + 8 + length])
        pos += 8 + length + (length & 1)
    return end + (end & 1), meta


def _jpeg_layout(data: bytes) -> tuple[int, list[bytes]]:
    # Ends with the end-of-image marker (zero padding some encoders add is fine). When it does not, an
    # end marker after the last start-of-scan means a complete image followed by extra data.
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\xff\xd9"):
        raise ImageRejected("trailing_data" if data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") else "truncated")
    first_scan = data.find(b"\xff\xda")
    return len(stripped), [data[:first_scan if first_scan > 0 else len(data)]]  # EXIF, XMP, ICC, comments


_LAYOUTS = {"PNG": _png_layout, "GIF": _gif_layout, "WEBP": _webp_layout, "JPEG": _jpeg_layout}


def check_container(data: bytes, claimed_type: str) -> str:
    """Every check short of decoding pixels. Returns the format; raises :class:`ImageRejected`."""
    check_size(len(data))
    fmt = _format_of(data[:PREFIX_BYTES], claimed_type)
    end, metadata = _LAYOUTS[fmt](data)
    if end < len(data):
        raise ImageRejected("trailing_data")
    if any(has_active_content(part) for part in metadata):
        raise ImageRejected("active_content")
    return fmt


def _open(data: bytes, fmt: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", limit=MAX_PIXELS // 1_000_000) from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise ImageRejected("corrupt") from exc
    if image.width * image.height > MAX_PIXELS:
        raise ImageRejected("too_many_pixels", limit=MAX_PIXELS // 1_000_000)
    if image.width < 1 or image.height < 1:
        raise ImageRejected("corrupt")
    return image


def inspect(data: bytes, claimed_type: str) -> tuple[str, int, int]:
    """Container checks plus the upright dimensions from the header (no pixels decoded): ``(format, w, h)``."""
    fmt = check_container(data, claimed_type)
    with _open(data, fmt) as image:
        try:
            return (fmt, *_oriented_size(image))
        except (OSError, SyntaxError, ValueError, struct.error) as exc:  # a damaged EXIF block
            raise ImageRejected("corrupt") from exc


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """The upright size, from what has been read so far. Never decodes pixels: for a PNG whose EXIF
    has not been seen yet, Pillow's ``getexif()`` would decode the whole image looking for an eXIf
    chunk after the pixel data (:func:`process` asks again once the image is loaded)."""
    if image.format == "PNG" and "exif" not in image.info:
        return image.width, image.height
    orientation = image.getexif().get(0x0112, 1)
    return (image.height, image.width) if orientation in (5, 6, 7, 8) else (image.width, image.height)


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or RGBA in sRGB. Embedded ICC profiles are honoured; a broken one is ignored."""
    alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info)
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        image = image.convert("RGBA" if alpha else "RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode=mode)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return image.convert("RGBA" if alpha else "RGB")


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode(image: Image.Image, name: str, fmt: str) -> Variant:
    image.info = {}  # nothing from the original travels along (EXIF, GPS, XMP, ICC, comments)
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        _flatten(image).save(buffer, "JPEG", quality=JPEG_QUALITY, progressive=True)
    return Variant(name=name, format=fmt, width=image.width, height=image.height, data=buffer.getvalue())


def target_widths(width: int, widths=WIDTHS) -> list[int]:
    """The variant widths for an image ``width`` pixels wide: never upscaled, the largest capped."""
    chosen = [w for w in widths if w < width]
    largest = min(width, max(widths))
    if largest not in chosen:
        chosen.append(largest)
    return sorted(chosen)


def process(data: bytes, claimed_type: str, *, widths=WIDTHS, square: int = SQUARE) -> Processed:
    """Verify ``data`` fully and make every variant, in WebP and JPEG, largest first.

    Applies EXIF orientation, converts to sRGB and strips all metadata. Memory stays bounded by one
    decoded frame of at most :data:`MAX_PIXELS` (JPEGs decode at reduced scale when they can).
    Raises :class:`ImageRejected`.
    """
    fmt = check_container(data, claimed_type)
    with _open(data, fmt) as probe:
        try:
            probe.verify()
        except Exception as exc:  # Pillow's plugins raise a variety of types for a damaged file
            raise ImageRejected("corrupt") from exc
    image = _open(data, fmt)
    try:
        animated = fmt in ("GIF", "WEBP") and bool(getattr(image, "is_animated", False))
        if fmt == "JPEG":
            # The full size from the header (a draft decodes smaller), at the smallest DCT scale that
            # still covers the largest variant and the square.
            oriented_w, oriented_h = _oriented_size(image)
            largest = target_widths(oriented_w, widths)[-1]
            scale = max(largest / oriented_w, min(square, oriented_w, oriented_h) / min(oriented_w, oriented_h))
            image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            raise ImageRejected("truncated" if "truncated" in str(exc) else "corrupt") from exc
        if fmt != "JPEG":  # now that everything is read: a PNG's EXIF may follow its pixels
            oriented_w, oriented_h = _oriented_size(image)
        sizes = target_widths(oriented_w, widths)
        frame = ImageOps.exif_transpose(image) or image
        frame = _to_srgb(frame)
    finally:
        image.close()

    variants: list[Variant] = []
    current = frame
    for width in reversed(sizes):  # each from the previous, larger one: cheaper, and sharp enough
        height = max(1, round(oriented_h * width / oriented_w))
        if current.size != (width, height):
            current = current.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        variants += [_encode(current, f"w{width}", "webp"), _encode(current, f"w{width}", "jpeg")]
    side = min(square, frame.width, frame.height)
    thumb = ImageOps.fit(frame, (side, side), Image.Resampling.LANCZOS)
    variants += [_encode(thumb, "square", "webp"), _encode(thumb, "square", "jpeg")]
    return Processed(format=fmt, width=oriented_w, height=oriented_h, animated=animated, variants=variants)
