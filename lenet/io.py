"""Safe image decoding: bytes or a path in, an (H, W) uint8 grey array out.

Everything a user can upload passes through here first, so every failure becomes an ``ImageError`` whose message
can be shown as is: size limits are checked on the header before any pixel is decoded (decompression bombs),
EXIF orientation is applied, 16-bit, CMYK, palette and transparent images are brought to 8-bit grey, and animated
or multi-page files give their first frame.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lenet import config

# ITU-R 601 luma, the weights Pillow's "L" conversion uses, so arrays and files agree.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ImageError(ValueError):
    """An image that cannot be used; ``str(err)`` is a one-line message meant for the user."""


def decode_image(data: bytes | str | Path, max_pixels: int = config.MAX_IMAGE_PIXELS, *,
                 colour: bool = False) -> np.ndarray:
    """Decode an image file safely to grey (or colour).

    Args:
        data: the file's bytes, a path to it, or a binary file object.
        max_pixels: refuse images with more pixels than this, judged from the header before decoding.
        colour: return (H, W, 3) uint8 RGB instead of grey (a page reader tells blue ink from yellow paper);
            grey files and transparent ones come back as their grey in three channels.

    Returns:
        (H, W) uint8 grey, 0-255 as in the file (dark ink stays dark: polarity is not normalised here),
        EXIF orientation applied, transparency composited onto a background that contrasts with the ink.

    Raises:
        ImageError: empty, unreadable, damaged, truncated or too large files.
    """
    if hasattr(data, "read"):  # an open file or Streamlit's UploadedFile
        data = data.read()
    if isinstance(data, (str, Path)):
        try:
            data = Path(data).read_bytes()
        except OSError as err:
            raise ImageError(f"Cannot read the file {Path(data).name!r}: {err.strerror or err}.") from None
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    with warnings.catch_warnings():
        # Pillow's own bomb check warns or raises by its global limit; ours below is the one that counts.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError(f"The image is too large; the limit is {_mp(max_pixels)} megapixels.") from None
        except UnidentifiedImageError:
            raise ImageError("Not a recognised image file (PNG, JPEG, GIF, BMP, TIFF or WebP expected).") from None
        except Exception as err:  # malformed headers raise anything from SyntaxError to struct.error
            raise ImageError(f"The image header is damaged ({type(err).__name__}).") from None
        with im:
            w, h = im.size
            if w <= 0 or h <= 0:
                raise ImageError("The image has no pixels.")
            if w * h > max_pixels:
                raise ImageError(f"The image is {w}×{h} = {_mp(w * h)} megapixels; the limit is "
                                 f"{_mp(max_pixels)} megapixels.")
            try:
                im.seek(0)  # animated GIF / multi-page TIFF: the first frame
                if im.format == "JPEG" and im.mode in ("RGB", "YCbCr") and not colour:
                    im.draft("L", im.size)  # libjpeg gives luma directly: a 12 MP photo decodes ~2x faster
                im.load()
                im = ImageOps.exif_transpose(im)
                if colour and im.mode in ("RGB", "CMYK", "YCbCr", "P") and not im.has_transparency_data:
                    return np.asarray(im.convert("RGB"), dtype=np.uint8)
                g = _pil_to_grey(im)
                return np.repeat(g[:, :, None], 3, axis=2) if colour else g
            except ImageError:
                raise
            except MemoryError:
                raise ImageError("Not enough memory to decode this image.") from None
            except Exception as err:  # OSError "truncated", SyntaxError, zlib errors, ValueError ...
                detail = _short(err)
                if "truncated" in detail:
                    raise ImageError("The image file is truncated (an incomplete upload or download?).") from None
                raise ImageError(f"The image file is damaged or truncated ({detail}).") from None


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".rstrip("0").rstrip(".")


def _short(err: Exception) -> str:
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return msg[:80]


def _pil_to_grey(im: Image.Image) -> np.ndarray:
    """A loaded PIL image of any mode -> (H, W) uint8."""
    mode = im.mode
    if mode in ("L", "1"):
        if "transparency" in im.info:
            return to_grey(np.asarray(im.convert("LA")))
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        if mode.startswith("I;16") or (mode == "I" and arr.size and 0 <= arr.min() and arr.max() <= 65535):
            arr = arr.astype(np.uint16)  # 16-bit PNG/TIFF grey (Pillow may hand it over as 32-bit "I")
        return to_grey(arr)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or im.has_transparency_data:
        return to_grey(np.asarray(im.convert("RGBA")))
    if mode == "CMYK":
        im = im.convert("RGB")  # Pillow undoes Adobe's inverted CMYK JPEGs itself
    elif mode != "RGB":
        im = im.convert("RGB")
    return to_grey(np.asarray(im))


def to_grey(img: np.ndarray) -> np.ndarray:
    """Any image array to 8-bit grey, compositing transparency.

    Args:
        img: (H, W), (H, W, 1), (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA; uint8, uint16 (0-65535),
            other integers, bool, or float (0-1 when its maximum is <= 1, else 0-255).

    Returns:
        (H, W) uint8. Transparent areas become background: white when the opaque part is dark ink, black when
        it is light ink (a canvas drawing in white), the opaque part's own level when it covers most of the image.
    """
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        raise ImageError(f"Unsupported image array shape {a.shape}.")
    if a.size == 0:
        raise ImageError("The image has no pixels.")
    if a.dtype == np.uint8:
        f = None
    else:
        f = _to_unit_float(a)
    if a.ndim == 2:
        return a.copy() if f is None else _float_to_u8(f)
    alpha = None
    if a.shape[2] in (2, 4):
        alpha = (a[:, :, -1].astype(np.float32) / 255.0) if f is None else f[:, :, -1]
    colour = a[:, :, :-1] if alpha is not None else a
    src = colour if f is None else (f[:, :, :-1] if alpha is not None else f)
    if src.shape[2] == 1:
        lum = src[:, :, 0].astype(np.float32) * (1.0 if f is not None else 1 / 255.0)
    else:
        lum = src.astype(np.float32) @ _LUMA * (1.0 if f is not None else 1 / 255.0)
    if alpha is None or alpha.min() >= 1.0:
        return _float_to_u8(lum)
    bg = _background_for(lum, alpha)
    return _float_to_u8(lum * alpha + bg * (1.0 - alpha))


def _background_for(lum: np.ndarray, alpha: np.ndarray) -> float:
    """Level (0-1) to put behind transparent pixels so that the ink keeps its contrast."""
    weight = float(alpha.sum())
    if weight <= 0:
        return 0.0  # nothing opaque: a blank (e.g. untouched canvas) image
    if weight / alpha.size > 0.5:
        # Mostly opaque: the opaque part is the page itself; extend it.
        return float(np.median(lum[alpha > 0.5])) if (alpha > 0.5).any() else float((lum * alpha).sum() / weight)
    ink = float((lum * alpha).sum() / weight)
    return 1.0 if ink < 0.5 else 0.0


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if np.issubdtype(a.dtype, np.integer):
        hi = int(a.max()) if a.size else 0
        scale = 255.0 if hi <= 255 else 65535.0 if hi <= 65535 else float(hi)
        return np.clip(a.astype(np.float32) / scale, 0.0, 1.0)
    f = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(f if f.max(initial=0.0) <= 1.0 else f / 255.0, 0.0, 1.0)


def _float_to_u8(f: np.ndarray) -> np.ndarray:
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
