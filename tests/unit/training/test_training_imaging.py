"""Robust decoding shared by training and serving: orientation, colour modes, bombs, garbage."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from classifier.imaging import (
    ImageDecodeError,
    ImageTooLargeError,
    eval_transform,
    normalize,
    open_rgb,
    resize_size,
    train_transform,
)


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    decoded = open_rgb(_encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.size == (20, 40)


@pytest.mark.parametrize("mode", ["CMYK", "L", "1", "P", "I;16", "LA", "RGBA", "F"])
def test_every_colour_mode_becomes_rgb(mode):
    image = Image.new("RGB", (16, 12), (30, 140, 220)).convert(mode)
    fmt = "TIFF" if mode in {"F", "CMYK"} else "PNG"
    decoded = open_rgb(_encode(image, fmt))
    assert decoded.mode == "RGB"
    assert decoded.size == (16, 12)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    pixels = np.full((8, 8), 32768, dtype=np.uint16)  # mid grey in 16 bits
    image = Image.fromarray(pixels)
    decoded = np.asarray(open_rgb(_encode(image, "PNG")))
    assert 120 <= int(decoded.mean()) <= 135


def test_transparency_is_composited_on_white():
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    decoded = np.asarray(open_rgb(_encode(image, "PNG")))
    assert decoded.min() == 255


def test_palette_gif_first_frame():
    frames = [Image.new("P", (10, 10), color) for color in (1, 2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert open_rgb(buffer.getvalue()).size == (10, 10)


def test_webp_and_bmp_decode():
    image = Image.new("RGB", (12, 12), (1, 2, 3))
    for fmt in ("WEBP", "BMP"):
        assert open_rgb(_encode(image, fmt)).size == (12, 12)


def test_garbage_and_truncated_files_raise_decode_errors():
    with pytest.raises(ImageDecodeError, match="cannot decode image"):
        open_rgb(b"this is not an image")
    jpeg = _encode(Image.new("RGB", (64, 64), (9, 9, 9)), "JPEG")
    with pytest.raises(ImageDecodeError):
        open_rgb(jpeg[: len(jpeg) // 2])


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_rejected_before_decoding():
    bomb = _encode(Image.new("1", (12_000, 12_000)), "PNG")  # 144 MP, a few kB on disk
    assert len(bomb) < 100_000
    with pytest.raises(ImageTooLargeError, match="pixels"):
        open_rgb(bomb)


def test_draft_mode_decodes_large_jpegs_at_reduced_scale_but_not_below_the_target():
    big = _encode(Image.new("RGB", (1600, 1200), (50, 60, 70)), "JPEG")
    decoded = open_rgb(big, draft_size=256)
    assert min(decoded.size) >= 256
    assert decoded.size[0] < 1600


def test_transforms_produce_uint8_tensors_of_the_image_size():
    image = Image.new("RGB", (96, 80), (10, 20, 30))
    assert train_transform(64, 0.35)(image).shape == (3, 64, 64)
    evaluated = eval_transform(64)(image)
    assert evaluated.shape == (3, 64, 64) and evaluated.dtype == torch.uint8
    assert resize_size(224) == 256


def test_normalize_matches_the_usual_formula():
    batch = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    result = normalize(batch, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert torch.allclose(result, torch.full_like(result, 2.0))
