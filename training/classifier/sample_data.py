"""Procedurally drawn ImageFolder dataset, so the demo and the tests need no download.

Each class is a family of textures (dots, stripes, checkerboard, rings, ...) drawn on a noisy
background inside a randomly placed, rotated and scaled patch with random colours. The classes
are easy for a CNN to tell apart at 64 px, yet no single pixel statistic separates them (the
colours, position, scale, rotation and noise are shared by all classes).

Written by hand (no library draws such data sets); relies on numpy and Pillow only.

    python -m classifier.sample_data --out DIR --classes 4 --train-per-class 100 \
        --valid-per-class 25 --test-per-class 25 --size 96 --seed 0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["CLASS_NAMES", "generate", "main", "render"]

Pattern = Callable[[np.ndarray, np.ndarray, float, np.random.Generator], np.ndarray]


def _dots(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    radius = rng.uniform(0.22, 0.34) * period
    du = (u % period) - period / 2
    dv = (v % period) - period / 2
    return np.asarray(du * du + dv * dv < radius * radius)


def _stripes(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    duty = rng.uniform(0.35, 0.6)
    return np.asarray((u % period) < duty * period)


def _checkerboard(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(((u // (period / 2)) + (v // (period / 2))) % 2 == 0)


def _rings(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    radius = np.sqrt(u * u + v * v)
    return np.asarray((radius % period) < 0.5 * period)


def _zigzag(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    amplitude = rng.uniform(0.4, 0.8) * period
    tri = np.abs(((v / period) % 1.0) - 0.5) * 2 * amplitude
    return np.asarray(((u + tri) % period) < 0.45 * period)


def _grid_lines(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    width = rng.uniform(0.15, 0.25) * period
    return np.asarray(((u % period) < width) | ((v % period) < width))


def _waves(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    bend = rng.uniform(0.5, 1.0) * period / 2
    return np.asarray(np.sin(2 * np.pi * (u + bend * np.sin(2 * np.pi * v / (1.5 * period))) / period) > 0)


def _spiral(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    arms = int(rng.integers(2, 5))
    theta = np.arctan2(v, u)
    radius = np.sqrt(u * u + v * v)
    return np.asarray(np.sin(arms * theta + 2 * np.pi * radius / period) > 0)


_PATTERNS: dict[str, Pattern] = {
    "001.Polka_dots": _dots,
    "002.Stripes": _stripes,
    "003.Checkerboard": _checkerboard,
    "004.Rings": _rings,
    "005.Zigzag": _zigzag,
    "006.Grid_lines": _grid_lines,
    "007.Waves": _waves,
    "008.Spiral": _spiral,
}
CLASS_NAMES: tuple[str, ...] = tuple(_PATTERNS)
SPLITS = ("train", "valid", "test")


def _colour_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background colours that differ enough to see the pattern."""
    while True:
        fg = rng.uniform(0, 110, 3)
        bg = rng.uniform(145, 255, 3)
        if np.abs(fg - bg).sum() > 160:
            return fg, bg


def render(class_name: str, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one RGB image of ``class_name`` (one of :data:`CLASS_NAMES`)."""
    pattern = _PATTERNS[class_name]
    fg, bg = _colour_pair(rng)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    # The patch: an ellipse near the centre, covering roughly 40-80% of the image.
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    rx, ry = rng.uniform(0.35, 0.5, 2) * size
    inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 < 1.0
    # The pattern: rotated, scaled and centred on the patch.
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(0.11, 0.2) * size
    dx, dy = xs - cx, ys - cy
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    mask = pattern(u, v, period, rng) & inside
    image = np.empty((size, size, 3), np.float32)
    image[:] = bg
    image[mask] = fg
    # A gentle illumination gradient and sensor-like noise shared by all classes.
    gradient = (xs * rng.uniform(-0.3, 0.3) + ys * rng.uniform(-0.3, 0.3))[..., None]
    noise = rng.normal(0, rng.uniform(5, 20), image.shape)
    pixels = np.clip(image + gradient + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def generate(
    root: Path,
    *,
    classes: int = 4,
    train_per_class: int = 100,
    valid_per_class: int = 25,
    test_per_class: int = 25,
    size: int = 96,
    seed: int = 0,
    image_format: str = "JPEG",
) -> Path:
    """Write ``root/{train,valid,test}/<class>/<n>.jpg`` and return ``root``.

    The same arguments always produce the same images (each split and class has its own
    random stream derived from ``seed``).
    """
    if not 2 <= classes <= len(CLASS_NAMES):
        raise ValueError(f"classes must be between 2 and {len(CLASS_NAMES)}, got {classes}")
    if size < 16:
        raise ValueError(f"size must be at least 16 px, got {size}")
    suffix = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[image_format.upper()]
    counts = dict(zip(SPLITS, (train_per_class, valid_per_class, test_per_class), strict=True))
    for split_index, split in enumerate(SPLITS):
        for class_index, class_name in enumerate(CLASS_NAMES[:classes]):
            folder = root / split / class_name
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([seed, split_index, class_index])
            for n in range(counts[split]):
                image = render(class_name, size, rng)
                image.save(folder / f"{n:04d}{suffix}", format=image_format.upper(), quality=90)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m classifier.sample_data --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="dataset root to create")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--valid-per-class", type=int, default=25)
    parser.add_argument("--test-per-class", type=int, default=25)
    parser.add_argument("--size", type=int, default=96, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default="JPEG", choices=["JPEG", "PNG", "WEBP"])
    args = parser.parse_args(argv)
    try:
        root = generate(
            args.out,
            classes=args.classes,
            train_per_class=args.train_per_class,
            valid_per_class=args.valid_per_class,
            test_per_class=args.test_per_class,
            size=args.size,
            seed=args.seed,
            image_format=args.format,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    total = args.classes * (args.train_per_class + args.valid_per_class + args.test_per_class)
    print(f"wrote {total} images of {args.classes} classes to {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
