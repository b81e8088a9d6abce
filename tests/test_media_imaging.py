"""blog.imaging: what is accepted, what is refused (and why), and what the variants look like."""
import io

import pytest
from PIL import Image

from blog import imaging
from tests import media_samples as samples


def _variants(processed, fmt=None):
    return {(v.name, v.format): v for v in processed.variants if fmt is None or v.format == fmt}


def test_a_photo_gets_every_width_in_webp_and_jpeg_plus_a_square():
    processed = imaging.process(samples.jpeg(2000, 1500), "image/jpeg")
    assert (processed.format, processed.width, processed.height, processed.animated) == ("JPEG", 2000, 1500, False)
    got = {(v.name, v.format): (v.width, v.height) for v in processed.variants}
    expected = {}
    for width in (320, 640, 1024, 1600):
        for fmt in ("webp", "jpeg"):
            expected[(f"w{width}", fmt)] = (width, round(1500 * width / 2000))
    expected[("square", "webp")] = expected[("square", "jpeg")] = (256, 256)
    assert got == expected
    for variant in processed.variants:
        with Image.open(io.BytesIO(variant.data)) as image:
            assert image.format == ("WEBP" if variant.format == "webp" else "JPEG")
            assert image.size == (variant.width, variant.height)


def test_small_images_are_never_upscaled():
    processed = imaging.process(samples.png(500, 200), "image/png")
    assert sorted({v.width for v in processed.variants if v.name != "square"}) == [320, 500]
    assert _variants(processed)[("square", "jpeg")].width == 200  # the short side: no upscaling either
    assert imaging.target_widths(100) == [100]
    assert imaging.target_widths(1600) == [320, 640, 1024, 1600]
    assert imaging.target_widths(5000) == [320, 640, 1024, 1600]


def test_metadata_is_stripped_and_orientation_applied():
    data = samples.jpeg(1200, 800, orientation=6, gps=True, icc=samples.srgb_profile())
    assert samples.GPS_IFD in samples.exif_of(data)
    processed = imaging.process(data, "image/jpeg")
    assert (processed.width, processed.height) == (800, 1200)  # rotated upright
    for variant in processed.variants:
        with Image.open(io.BytesIO(variant.data)) as image:
            assert not image.getexif(), variant.name
            assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"} & set(image.info), image.info
    tall = _variants(processed)[("w640", "jpeg")]
    assert (tall.width, tall.height) == (640, 960)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "CMYK"])
def test_other_colour_modes_become_srgb_rgb(mode):
    fmt = "JPEG" if mode in ("CMYK", "L") else "PNG"
    data = samples.photo(700, 500, fmt=fmt, mode=mode)
    processed = imaging.process(data, imaging.FORMATS[fmt])
    for variant in processed.variants:
        with Image.open(io.BytesIO(variant.data)) as image:
            assert image.mode in ("RGB", "RGBA")


def test_animated_images_become_stills_of_their_first_frame():
    processed = imaging.process(samples.animated_gif(), "image/gif")
    assert processed.animated
    for variant in processed.variants:
        with Image.open(io.BytesIO(variant.data)) as image:
            assert not getattr(image, "is_animated", False)


@pytest.mark.parametrize(("data", "claimed", "code"), [
    (samples.SVG, "image/svg+xml", "unsupported_type"),
    (samples.SVG, "image/png", "foreign"),
    (samples.HTML, "image/jpeg", "foreign"),
    (samples.PDF, "image/gif", "foreign"),
    (b"just some text", "image/png", "not_image"),
    (b"", "image/png", "empty"),
], ids=["svg-type", "svg-as-png", "html-as-jpeg", "pdf-as-gif", "text", "empty"])
def test_non_images_are_refused(data, claimed, code):
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.process(data, claimed)
    assert refused.value.code == code


def test_foreign_files_are_named():
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.check_container(samples.PDF, "image/png")
    assert refused.value.params == {"kind": "PDF"}


def test_bytes_that_do_not_match_the_claimed_type_are_refused():
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.inspect(samples.png(), "image/jpeg")
    assert (refused.value.code, refused.value.params) == ("type_mismatch", {"claimed": "JPEG", "found": "PNG"})


@pytest.mark.parametrize("make", [
    lambda: samples.polyglot(),
    lambda: samples.jpeg(400, 300) + b"<html><script>alert(1)</script></html>",
    lambda: samples.png(400, 300) + b"%PDF-1.4 trailer",
], ids=["gif-comment-script", "jpeg-plus-html", "png-plus-pdf"])
def test_polyglots_are_refused(make):
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.process(make(), imaging.FORMATS[imaging.sniff(make())])
    assert refused.value.code in ("active_content", "trailing_data")


def test_extra_data_after_the_image_is_refused():
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.check_container(samples.jpeg(300, 200) + b"\x00\x01junk", "image/jpeg")
    assert refused.value.code == "trailing_data"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_truncated_files_are_refused(fmt):
    data = samples.animated_gif(frames=1) if fmt == "GIF" else samples.photo(600, 400, fmt=fmt)
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.process(data[: len(data) * 2 // 3], imaging.FORMATS[fmt])
    assert refused.value.code == "truncated"


@pytest.mark.parametrize(("width", "height"), [(8000, 6000), (20_000, 20_000)], ids=["48MP", "400MP"])
def test_decompression_bombs_are_refused_before_decoding(width, height):
    data = samples.bomb(width, height)
    assert len(data) < 200_000
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.inspect(data, "image/png")
    assert refused.value.code == "too_many_pixels"
    with pytest.raises(imaging.ImageRejected):
        imaging.process(data, "image/png")


def test_files_over_the_size_limit_are_refused_without_reading_further():
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.check_prefix(b"\xff\xd8\xff\xe0", "image/jpeg", imaging.MAX_BYTES + 1)
    assert refused.value.code == "too_large"
    assert imaging.check_prefix(samples.jpeg(300, 200)[:1000], "image/jpeg", imaging.MAX_BYTES) == "JPEG"


def test_pillow_limits_are_set():
    assert Image.MAX_IMAGE_PIXELS == imaging.MAX_PIXELS == 40_000_000


def _png_with_text(text: str) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", text)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


@pytest.mark.parametrize(("make", "claimed"), [
    (lambda: samples.photo(300, 200, fmt="JPEG", comment=b"<script>alert(1)</script>"), "image/jpeg"),
    (lambda: _png_with_text("<html><body onload=alert(1)>"), "image/png"),
    (lambda: samples.photo(300, 200, fmt="WEBP", xmp=b"<?xml version='1.0'?><svg onload='alert(1)'/>"),
     "image/webp"),
], ids=["jpeg-comment", "png-text", "webp-xmp"])
def test_active_content_in_metadata_is_refused(make, claimed):
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.check_container(make(), claimed)
    assert refused.value.code == "active_content"


def _chunk(kind: bytes, body: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_pixel_data_that_happens_to_spell_a_tag_is_not_mistaken_for_content():
    import struct
    import zlib

    rows = b"".join(b"\x00" + (b"<script>" * 8) for _ in range(4))  # filter 0: raw bytes, stored uncompressed
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 4, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows, 0)) + _chunk(b"IEND", b""))
    assert b"<script>" in data
    assert imaging.check_container(data, "image/png") == "PNG"
    assert imaging.process(data, "image/png").width == 64
