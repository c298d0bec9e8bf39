"""lenet.io: safe decoding of whatever a user uploads, and array -> grey conversion."""
from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from lenet.io import ImageError, decode_image, to_grey


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries almost no data: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def test_grey_png_round_trip_is_exact():
    a = np.arange(0, 240, dtype=np.uint8).reshape(12, 20)
    g = decode_image(encode(Image.fromarray(a), "PNG"))
    assert g.dtype == np.uint8 and g.shape == (12, 20)
    np.testing.assert_array_equal(g, a)


def test_rgb_matches_pillow_luma():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    im = Image.fromarray(rgb)
    g = decode_image(encode(im, "PNG"))
    ref = np.asarray(im.convert("L")).astype(int)
    assert np.abs(g.astype(int) - ref).max() <= 1


def test_path_and_str_inputs(tmp_path):
    p = tmp_path / "d.png"
    Image.fromarray(np.full((5, 6), 77, np.uint8)).save(p)
    assert decode_image(p).shape == (5, 6)
    assert decode_image(str(p))[0, 0] == 77
    with pytest.raises(ImageError, match="Cannot read"):
        decode_image(tmp_path / "missing.png")


def test_sixteen_bit_png_scaled_to_eight_bits():
    a = np.array([[0, 257, 32768, 65535]], np.uint16).repeat(3, axis=0)
    data = encode(Image.fromarray(a), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    g = decode_image(data)
    np.testing.assert_array_equal(g[0], [0, 1, 128, 255])


def test_cmyk_jpeg():
    im = Image.new("CMYK", (60, 40), (0, 0, 0, 0))  # white paper
    im.paste((0, 0, 0, 255), (20, 10, 40, 30))  # black ink
    data = encode(im, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    g = decode_image(data)
    assert g.shape == (40, 60)
    assert g[2, 2] > 240 and g[20, 30] < 15


def test_transparent_png_dark_ink_goes_on_white():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:30, 18:22] = (20, 20, 20, 255)  # dark opaque stroke, the rest fully transparent (and black)
    g = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert g[0, 0] == 255 and g[20, 20] == 20


def test_transparent_png_light_ink_goes_on_black():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 255  # transparent white: a naive conversion would make it all white
    rgba[10:30, 18:22, 3] = 255
    g = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert g[0, 0] == 0 and g[20, 20] == 255


def test_mostly_opaque_page_extends_its_paper_into_transparent_corner():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 230, 255
    rgba[:5, :5, 3] = 0
    g = to_grey(rgba)
    assert g[0, 0] == 230


def test_la_and_palette_with_transparency():
    la = np.zeros((20, 20, 2), np.uint8)
    la[5:15, 5:15] = (10, 255)
    g = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert g[0, 0] == 255 and g[10, 10] == 10
    p = Image.new("P", (20, 20), 0)
    p.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    p.paste(1, (5, 5, 15, 15))
    g = decode_image(encode(p, "GIF", transparency=0))
    assert g[0, 0] == 255 and g[10, 10] == 0


def test_animated_gif_gives_first_frame():
    frames = [Image.fromarray(np.full((16, 16), v, np.uint8)).convert("P") for v in (30, 200, 120)]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert getattr(Image.open(io.BytesIO(b.getvalue())), "n_frames", 1) == 3
    g = decode_image(b.getvalue())
    assert abs(int(g[8, 8]) - 30) <= 2


def test_multipage_tiff_gives_first_page():
    pages = [Image.fromarray(np.full((10, 12), v, np.uint8)) for v in (50, 180)]
    b = io.BytesIO()
    pages[0].save(b, "TIFF", save_all=True, append_images=pages[1:])
    g = decode_image(b.getvalue())
    assert g.shape == (10, 12) and g[5, 5] == 50


def test_exif_orientation_is_applied():
    a = np.full((20, 40), 255, np.uint8)  # landscape, dark block at the left end
    a[:, :8] = 0
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    g = decode_image(encode(Image.fromarray(a), "JPEG", quality=95, exif=exif))
    assert g.shape == (40, 20)  # displayed portrait
    assert g[:8].mean() < 40 and g[-8:].mean() > 215  # the left end is now on top


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"hello, this is a text file renamed to .png\n" * 5, "Not a recognised image"),
])
def test_bad_files_raise_clear_errors(data, match):
    with pytest.raises(ImageError, match=match) as err:
        decode_image(data)
    assert "\n" not in str(err.value)


def test_text_file_renamed_png(tmp_path):
    p = tmp_path / "digit.png"
    p.write_text("not an image")
    with pytest.raises(ImageError, match="Not a recognised image"):
        decode_image(p)


def test_truncated_png():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 256, (200, 200), dtype=np.uint8)), "PNG")
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_huge_png_refused_fast_without_decoding():
    data = png_header_only(30000, 30000)
    t = time.perf_counter()
    with pytest.raises(ImageError, match="too large|limit"):
        decode_image(data)
    assert time.perf_counter() - t < 0.5


def test_pixel_limit_is_checked_on_the_header():
    data = encode(Image.fromarray(np.zeros((20, 20), np.uint8)), "PNG")
    with pytest.raises(ImageError, match="limit is"):
        decode_image(data, max_pixels=399)
    assert decode_image(data, max_pixels=400).shape == (20, 20)


def test_large_photo_decodes_quickly():
    yy, xx = np.mgrid[0:3000, 0:4000]
    rgb = np.stack([(xx // 16) % 256, (yy // 12) % 256, ((xx + yy) // 20) % 256], -1).astype(np.uint8)
    data = encode(Image.fromarray(rgb), "JPEG", quality=85)
    t = time.perf_counter()
    g = decode_image(data)
    assert g.shape == (3000, 4000)
    assert time.perf_counter() - t < 2.0


class TestToGrey:
    def test_grey_uint8_is_copied(self):
        a = np.arange(12, dtype=np.uint8).reshape(3, 4)
        g = to_grey(a)
        np.testing.assert_array_equal(g, a)
        assert g is not a

    def test_rgb_and_single_channel(self):
        a = np.zeros((2, 2, 3), np.uint8)
        a[0, 0] = (255, 0, 0)
        g = to_grey(a)
        assert g[0, 0] == 76 and g[1, 1] == 0
        assert to_grey(np.full((2, 2, 1), 9, np.uint8))[0, 0] == 9

    def test_canvas_rgba_white_strokes_on_transparent(self):
        canvas = np.zeros((50, 50, 4), np.uint8)
        canvas[20:30, 10:40] = (255, 255, 255, 255)
        canvas[19, 10:40] = (255, 255, 255, 128)  # anti-aliased edge
        g = to_grey(canvas)
        assert g[0, 0] == 0 and g[25, 25] == 255 and 120 <= g[19, 20] <= 135

    def test_uint16_float_and_bool(self):
        assert to_grey(np.full((2, 2), 65535, np.uint16))[0, 0] == 255
        assert to_grey(np.full((2, 2), 0.5, np.float32))[0, 0] == 128
        assert to_grey(np.full((2, 2), 200.0))[0, 0] == 200
        assert to_grey(np.ones((2, 2), bool))[0, 0] == 255
        assert to_grey(np.full((2, 2), np.nan, np.float32))[0, 0] == 0

    def test_fully_transparent_is_blank(self):
        g = to_grey(np.zeros((8, 8, 4), np.uint8))
        assert g.shape == (8, 8) and g.std() == 0

    @pytest.mark.parametrize("shape", [(3,), (2, 2, 5), (2, 2, 3, 1), (0, 4)])
    def test_bad_shapes(self, shape):
        with pytest.raises(ImageError):
            to_grey(np.zeros(shape, np.uint8))
