"""Robust image decoding and the train/eval transforms, shared by training and serving.

Any file or request body Pillow can open becomes an RGB image: EXIF orientation applied,
CMYK / grayscale / palette / 16-bit / float images converted, transparency composited on white,
the first frame of an animation taken. JPEGs are decoded at a reduced scale (Pillow's draft
mode) when the target size allows, which makes decoding large photos several times faster. A
decompression-bomb guard rejects images whose header announces too many pixels before any
pixel is decoded. Transforms produce uint8 CHW tensors; normalisation happens on the device
(:func:`normalize`), so DataLoader workers, pinned memory and host-to-device copies move a
quarter of the bytes. Relies on Pillow, numpy and torchvision (the crop sampling of
RandomResizedCrop); the crop, resize and flip are fused into one Pillow call by hand because
that halves the input pipeline's CPU time (measured by bench/train_throughput.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms import RandomResizedCrop

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "ImageDecodeError",
    "ImageTooLargeError",
    "RandomResizedCropFlip",
    "ResizeCenterCrop",
    "eval_transform",
    "normalize",
    "open_rgb",
    "resize_size",
    "train_transform",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_IMAGE_PIXELS = 50_000_000  # ~7000 x 7000: more than any camera photo a user would send
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_EVAL_CROP_FRACTION = 0.875


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can decode (or the file is truncated)."""


class ImageTooLargeError(ImageDecodeError):
    """The image announces more pixels than :data:`MAX_IMAGE_PIXELS` (decompression-bomb guard)."""


def resize_size(image_size: int) -> int:
    """Shorter-side size before the centre crop at evaluation (the ImageNet 224/256 ratio)."""
    return round(image_size / _EVAL_CROP_FRACTION)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _HIGH_BIT_MODES:
        pixels = np.asarray(image, dtype=np.float32)
        if image.mode == "F" and pixels.size and float(pixels.max()) <= 1.0:
            pixels = pixels * 255.0
        elif pixels.size and float(pixels.max()) > 255.0:
            pixels = pixels / 257.0
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def open_rgb(
    source: str | Path | bytes | BinaryIO,
    *,
    draft_size: int | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> Image.Image:
    """Decode ``source`` (a path, bytes or a binary file) into an upright RGB image.

    ``draft_size`` lets a JPEG be decoded at 1/2, 1/4 or 1/8 scale as long as both sides stay
    at least that many pixels. Raises :class:`ImageTooLargeError` for more than ``max_pixels``
    and :class:`ImageDecodeError` for anything Pillow cannot decode.
    """
    stream: str | Path | BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with Image.open(stream) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"image is {width}x{height} = {width * height} pixels, more than the {max_pixels} allowed"
                )
            if draft_size and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _to_rgb(upright)
            rgb.load()
            return rgb
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(str(error)) from None
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError) as error:
        # Pillow reports unknown formats, truncation and corrupt data with these types.
        reason = str(error) or type(error).__name__
        raise ImageDecodeError(f"cannot decode image: {reason}") from None


def _to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> uint8 CHW tensor (a view of one copy of the pixels)."""
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1)


class RandomResizedCropFlip:
    """Random resized crop + horizontal flip in one Pillow resize, to a uint8 CHW tensor.

    The crop is sampled exactly as torchvision's RandomResizedCrop samples it (its ``get_params``,
    torch's RNG, so DataLoader workers are seeded as usual); cropping and resizing happen in one
    ``Image.resize(box=...)`` call (Pillow's bilinear filter antialiases when it shrinks), which
    costs about half of the composed torchvision transforms on small images.
    """

    def __init__(self, size: int, min_scale: float, ratio: tuple[float, float] = (3 / 4, 4 / 3)):
        self.size = size
        self.scale = (min_scale, 1.0)
        self.ratio = ratio

    def __call__(self, image: Image.Image) -> torch.Tensor:
        top, left, height, width = RandomResizedCrop.get_params(image, list(self.scale), list(self.ratio))
        box = (left, top, left + width, top + height)
        result = image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
        if torch.rand(1).item() < 0.5:
            result = result.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return _to_tensor(result)


class ResizeCenterCrop:
    """Shorter side to :func:`resize_size`, centre crop of ``size``, in one Pillow resize."""

    def __init__(self, size: int):
        self.size = size
        self.resize = resize_size(size)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        width, height = image.size
        crop = self.size * min(width, height) / self.resize  # the crop's side in source pixels
        left, top = (width - crop) / 2, (height - crop) / 2
        box = (left, top, left + crop, top + crop)
        return _to_tensor(image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box))


def train_transform(image_size: int, min_crop_scale: float) -> RandomResizedCropFlip:
    """Random resized crop + horizontal flip, to a uint8 CHW tensor."""
    return RandomResizedCropFlip(image_size, min_crop_scale)


def eval_transform(image_size: int) -> ResizeCenterCrop:
    """Resize the shorter side to :func:`resize_size` and centre-crop, to a uint8 CHW tensor."""
    return ResizeCenterCrop(image_size)


def normalize(
    images: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    *,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> torch.Tensor:
    """uint8 NCHW batch (already on its device) -> normalised float batch."""
    scale = torch.tensor(std, device=images.device, dtype=dtype).view(1, -1, 1, 1) * 255.0
    shift = torch.tensor(mean, device=images.device, dtype=dtype).view(1, -1, 1, 1) * 255.0
    result = (images.to(dtype) - shift) / scale
    if channels_last:
        result = result.contiguous(memory_format=torch.channels_last)
    return result
