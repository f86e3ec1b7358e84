"""The ImageFolder dataset: split discovery, class rules, unreadable-file policy, loaders.

Contract: docs/contracts.md#dataset.

``<root>/train|valid|test/<class dir>/<image>``: classes are the sorted train class dirs; the
valid and test splits must have the same set. A label drops a numeric prefix and turns ``_``
into spaces (``001.Affenpinscher`` -> ``Affenpinscher``). Every image is decoded once up front
(JPEGs in draft mode, in a thread pool: Pillow releases the GIL while decoding); unreadable
files are skipped and counted, and more than ``max_unreadable_fraction`` of a split fails the
job with the list. A file that becomes unreadable later is dropped from its batch by
:func:`collate_skipping_failures` rather than stopping training.

Loaders: DistributedSampler for training (deterministic per-epoch shuffle, also with one
process, so a resumed job sees the same order), an exact non-padding shard for evaluation,
workers from the CPU count, pinned memory on CUDA, persistent workers and prefetching.
Relies on torch, torchvision (through :mod:`classifier.imaging`) and the standard library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from classifier.failures import UserError
from classifier.imaging import IMAGE_EXTENSIONS, ImageDecodeError, open_rgb

__all__ = [
    "DatasetSpec",
    "ImageFolderDataset",
    "Sample",
    "ShardSampler",
    "Split",
    "available_cpus",
    "collate_skipping_failures",
    "default_num_workers",
    "display_label",
    "find_unreadable",
    "list_classes",
    "list_samples",
    "load_dataset_spec",
    "make_loader",
]

_PREFIX = re.compile(r"^\d+[._\-\s]*")
_LIST_LIMIT = 10


@dataclass(frozen=True)
class Sample:
    """One image file and its class index."""

    path: Path
    label: int


@dataclass
class Split:
    """One split (train, valid or test) after the unreadable files were removed."""

    name: str
    root: Path
    samples: list[Sample]
    unreadable: list[Path] = field(default_factory=list)


@dataclass
class DatasetSpec:
    """Classes, display labels and the readable samples of each split."""

    classes: list[str]
    labels: list[str]
    splits: dict[str, Split]


def display_label(class_dir: str) -> str:
    """``001.Affenpinscher`` -> ``Affenpinscher``; ``German_shepherd_dog`` -> ``German shepherd dog``."""
    label = _PREFIX.sub("", class_dir).replace("_", " ").strip()
    return label or class_dir


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def default_num_workers(*, cuda: bool, processes_per_host: int = 1) -> int:
    """DataLoader workers per process from the CPU count.

    On CUDA the CPUs exist to feed the GPU: all but one per process (at most 8). On CPU the
    training process computes with every core, and decoding (cached after the first epoch) costs
    about 1% of a step, so it runs in the training process itself (0 workers): a worker process
    would preempt the compute threads, which cost 10-15% of throughput on 2 cores
    (bench/train_throughput.py --num-workers 1).
    """
    per_process = max(1, available_cpus() // max(1, processes_per_host))
    if cuda:
        return max(1, min(8, per_process - 1))
    return 0


def list_classes(root: Path) -> list[str]:
    """The class directories of a split, sorted (hidden ones ignored)."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def list_samples(root: Path, classes: Sequence[str]) -> list[Sample]:
    """Every image file under ``root/<class>/`` (recursively, sorted), labelled by class index."""
    samples: list[Sample] = []
    for index, name in enumerate(classes):
        class_dir = root / name
        if not class_dir.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            samples.extend(
                Sample(Path(dirpath) / filename, index)
                for filename in sorted(filenames)
                if _is_image(filename)
            )
    return samples


def _unreadable(path: Path) -> bool:
    try:
        open_rgb(path, draft_size=32)
    except ImageDecodeError:
        return True
    except OSError:  # permission denied, vanished file, ...
        return True
    return False


def find_unreadable(paths: Sequence[Path], *, threads: int | None = None) -> list[Path]:
    """The paths that do not decode as images (checked in a thread pool)."""
    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=threads or available_cpus()) as pool:
        flags = list(pool.map(_unreadable, paths, chunksize=16))
    return [path for path, bad in zip(paths, flags, strict=True) if bad]


def _describe_difference(split: str, train: Sequence[str], other: Sequence[str]) -> str:
    missing = sorted(set(train) - set(other))
    extra = sorted(set(other) - set(train))
    parts = []
    if missing:
        parts.append(f"missing {_short_list(missing)}")
    if extra:
        parts.append(f"not in train {_short_list(extra)}")
    return f"the {split} split's classes differ from the train split's: " + "; ".join(parts)


def _short_list(items: Sequence[object]) -> str:
    shown = ", ".join(str(item) for item in items[:_LIST_LIMIT])
    more = f" (and {len(items) - _LIST_LIMIT} more)" if len(items) > _LIST_LIMIT else ""
    return f"[{shown}]{more}"


def _check_split_root(name: str, root: Path) -> None:
    if not root.is_dir():
        raise UserError(f"the {name} data was not found: {root} is not a directory")
    if not any(p.is_dir() for p in root.iterdir()):
        raise UserError(
            f"the {name} data at {root} has no class directories (expected {root}/<class>/<image>)"
        )
    looks_like_root = {"train", "valid", "test"} & {p.name for p in root.iterdir() if p.is_dir()}
    if name == "train" and len(looks_like_root) >= 2:
        raise UserError(
            f"the train data at {root} looks like a dataset root (it holds {sorted(looks_like_root)}): "
            f"pass {root}/train as the train channel, or the root as the data-dir hyperparameter"
        )


UnreadableExchange = Callable[[list[str]], list[str]]


def load_dataset_spec(
    roots: dict[str, Path],
    *,
    max_unreadable_fraction: float = 0.01,
    shard: tuple[int, int] = (0, 1),
    exchange_unreadable: UnreadableExchange | None = None,
    report_path: Path | None = None,
) -> DatasetSpec:
    """Discover the splits in ``roots`` (train required), check every image, apply the 1% rule.

    ``shard=(rank, world_size)`` checks only this rank's share of the files;
    ``exchange_unreadable`` then merges the unreadable lists of all ranks (an all-gather), so
    every rank reaches the same decision. ``report_path`` receives the full unreadable list.
    Raises :class:`UserError` for a missing split, mismatched classes or too many unreadable files.
    """
    classes = _checked_classes(roots)
    all_samples = {name: list_samples(root, classes) for name, root in roots.items()}
    rank, world_size = shard
    to_check = [s.path for samples in all_samples.values() for s in samples][rank::world_size]
    bad_paths = [str(p) for p in find_unreadable(to_check)]
    if exchange_unreadable is not None:
        bad_paths = exchange_unreadable(bad_paths)
    bad = {Path(p) for p in bad_paths}
    splits = {
        name: Split(
            name,
            roots[name],
            [s for s in samples if s.path not in bad],
            [s.path for s in samples if s.path in bad],
        )
        for name, samples in all_samples.items()
    }
    if report_path is not None and bad:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text("".join(f"{p}\n" for p in sorted(bad)), encoding="utf-8")
    _check_unreadable_fraction(splits, max_unreadable_fraction)
    _check_readable_left(splits, classes)
    labels = [display_label(name) for name in classes]
    return DatasetSpec(classes=classes, labels=labels, splits=splits)


def _checked_classes(roots: dict[str, Path]) -> list[str]:
    """The train split's classes, once every split root exists and has the same classes."""
    if "train" not in roots:
        raise UserError("no train data: set SM_CHANNEL_TRAIN or the data-dir hyperparameter")
    for name, root in roots.items():
        _check_split_root(name, root)
    classes = list_classes(roots["train"])
    for name, root in roots.items():
        if name != "train" and list_classes(root) != classes:
            raise UserError(_describe_difference(name, classes, list_classes(root)))
    return classes


def _check_unreadable_fraction(splits: dict[str, Split], max_unreadable_fraction: float) -> None:
    """The 1% rule: a split with more unreadable images than the allowed fraction fails the job."""
    problems: list[str] = []
    for name, split in splits.items():
        unreadable, total = len(split.unreadable), len(split.samples) + len(split.unreadable)
        if total and unreadable > max_unreadable_fraction * total:
            relative = [str(p.relative_to(split.root)) for p in split.unreadable]
            problems.append(
                f"{unreadable} of {total} {name} images "
                f"({100 * unreadable / total:.1f}%) are unreadable: {_short_list(relative)}"
            )
    if problems:
        raise UserError(
            "; ".join(problems) + f" - more than the allowed {100 * max_unreadable_fraction:g}% "
            "(max-unreadable-fraction)"
        )


def _check_readable_left(splits: dict[str, Split], classes: list[str]) -> None:
    """Every split keeps an image, every train class keeps one, and there are two classes at least."""
    for name, split in splits.items():
        if not split.samples:
            raise UserError(f"the {name} split at {split.root} has no readable images")
    empty = [
        classes[i] for i in range(len(classes)) if not any(s.label == i for s in splits["train"].samples)
    ]
    if empty:
        raise UserError(f"train classes without any readable image: {_short_list(empty)}")
    if len(classes) < 2:
        raise UserError(
            f"at least 2 classes are needed, the train data at {splits['train'].root} has {len(classes)}"
        )


class ImageFolderDataset(Dataset[tuple[torch.Tensor, int] | None]):
    """Decodes one sample per item; an image that fails to decode yields ``None`` (dropped later).

    Decoded images are kept in memory up to ``cache_bytes`` (per process: each DataLoader worker
    fills its own cache, persistent workers keep it across epochs), so later epochs only crop
    and resize. Augmentation is unaffected: the random transform runs on every access.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable[[Image.Image], torch.Tensor],
        draft_size: int,
        *,
        cache_bytes: int = 0,
    ):
        self.samples = list(samples)
        self.transform = transform
        self.draft_size = draft_size
        self.cache_bytes = cache_bytes
        self._cache: dict[int, Image.Image] = {}
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.samples)

    def _decoded(self, index: int) -> Image.Image:
        image = self._cache.get(index)
        if image is not None:
            return image
        image = open_rgb(self.samples[index].path, draft_size=self.draft_size)
        size = image.width * image.height * 3
        if self._cached_bytes + size <= self.cache_bytes:
            self._cache[index] = image
            self._cached_bytes += size
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | None:
        try:
            image = self._decoded(index)
        except (ImageDecodeError, OSError):
            return None
        return self.transform(image), self.samples[index].label


class IndexedDataset(Dataset[tuple[torch.Tensor, int] | None]):
    """``dataset``'s images with their index instead of their label, to trace predictions to files."""

    def __init__(self, dataset: ImageFolderDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | None:
        item = self.dataset[index]
        return None if item is None else (item[0], index)


def collate_skipping_failures(
    batch: Sequence[tuple[torch.Tensor, int] | None],
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Stack the decodable items; return ``(images, labels, failed_count)``."""
    good = [item for item in batch if item is not None]
    failed = len(batch) - len(good)
    if not good:
        return torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.long), failed
    images = torch.stack([item[0] for item in good])
    labels = torch.tensor([item[1] for item in good], dtype=torch.long)
    return images, labels, failed


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world_size, ...``: every sample exactly once across ranks (no padding)."""

    def __init__(self, length: int, rank: int = 0, world_size: int = 1):
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loader(
    dataset: ImageFolderDataset | IndexedDataset,
    *,
    batch_size: int,
    train: bool,
    num_workers: int,
    pin_memory: bool,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader[tuple[torch.Tensor, int] | None]:
    """A DataLoader over ``dataset`` for training (shuffled, sharded) or evaluation (in order, sharded).

    Training drops a trailing batch of one sample (BatchNorm cannot train on it). Call
    ``loader.sampler.set_epoch(epoch)`` before each training epoch.
    """
    sampler: Sampler[int]
    drop_last = False
    if train:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        drop_last = len(sampler) % batch_size == 1 and len(sampler) > 1
    else:
        sampler = ShardSampler(len(dataset), rank, world_size)
    extra: dict[str, object] = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "prefetch_factor": 4}
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        collate_fn=collate_skipping_failures,
        **extra,  # type: ignore[arg-type]
    )
