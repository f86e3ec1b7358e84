"""Training throughput: the real input pipeline vs the same batches from memory, side by side in one run.

Both sides run train.py's own training step (classifier.loop.Trainer: to device, normalise,
forward, backward, optimizer step) on the same model and batch size. The real side reads
JPEGs through the DataLoader of train.py (decode, random resized crop, flip, workers); the
in-memory side feeds the same epoch's uint8 batches decoded beforehand, so the difference is
what the input pipeline costs. Rounds alternate the two sides (one epoch each); the best round
of each side and the median of the per-round ratios are reported.

    python bench/train_throughput.py                      # resnet18 @ 64 px, batch 32 (the acceptance run)
    python bench/train_throughput.py --arch resnet50 --image-size 224 --batch-size 128 --data-size 256

On CUDA, AMP and channels_last are on as in train.py. Without --data a sample dataset is
generated in a temporary directory (4 classes x 100 images of --data-size px).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    import classifier  # noqa: F401
except ImportError:  # not pip-installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

import torch
from torch import nn

from classifier.data import ImageFolderDataset, default_num_workers, load_dataset_spec, make_loader
from classifier.distributed import DistributedContext
from classifier.imaging import IMAGENET_MEAN, IMAGENET_STD, train_transform
from classifier.loop import StopRequest, Trainer
from classifier.models import create_architecture
from classifier.optim import build_optimizer, build_scheduler
from classifier.profiling import NoOpProfiler
from classifier.sample_data import generate


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=0, help="steps per side per round (0: one epoch)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--num-workers", type=int, default=-1, help="-1: train.py's automatic choice")
    parser.add_argument("--data", type=Path, help="an ImageFolder root with train/ (default: generated)")
    parser.add_argument("--data-size", type=int, default=96, help="side of the generated images")
    parser.add_argument("--min-crop-scale", type=float, default=0.35)
    parser.add_argument("--cache-mb", type=int, default=256, help="decoded-image cache (train.py's cache-mb)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = generate(
                Path(tmp) / "data",
                classes=4,
                train_per_class=100,
                valid_per_class=2,
                test_per_class=0,
                size=args.data_size,
            )
        return run(args, root)


def run(args: argparse.Namespace, root: Path) -> int:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    ctx = DistributedContext(rank=0, world_size=1, local_rank=0, local_world_size=1, device=device)
    spec = load_dataset_spec({"train": root / "train"})
    workers = args.num_workers if args.num_workers >= 0 else default_num_workers(cuda=cuda)
    draft = math.ceil(args.image_size / math.sqrt(args.min_crop_scale))
    dataset = ImageFolderDataset(
        spec.splits["train"].samples,
        train_transform(args.image_size, args.min_crop_scale),
        draft,
        cache_bytes=args.cache_mb * 1024 * 1024,
    )
    loader = make_loader(
        dataset, batch_size=args.batch_size, train=True, num_workers=workers, pin_memory=cuda
    )

    torch.manual_seed(0)
    model, _ = create_architecture(args.arch, len(spec.classes))
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    amp_dtype = None
    if cuda:
        amp_dtype = torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16
    optimizer = build_optimizer(model, "adamw", lr=1e-3, weight_decay=1e-4, momentum=0.9)
    steps = args.steps or len(loader)
    total_steps = 2 * (args.rounds + 1) * steps
    trainer = Trainer(
        criterion=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, total_steps=total_steps, warmup_steps=0),
        scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        ctx=ctx,
        amp_dtype=amp_dtype,
        channels_last=cuda,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        profiler=NoOpProfiler(),
        stop=StopRequest(),
        max_steps_per_epoch=steps,
    )

    # The in-memory batches: one epoch decoded beforehand by the same pipeline (copied out of the
    # workers' shared memory; pinned on CUDA), then only fed to the model.
    memory: list[tuple[torch.Tensor, torch.Tensor, int]] = []
    while len(memory) < steps:
        for images, labels, failed in loader:
            copy = images.clone().pin_memory() if cuda else images.clone()
            memory.append((copy, labels.clone(), failed))
            if len(memory) >= steps:
                break

    print(
        f"device={device.type} arch={args.arch} image_size={args.image_size} "
        f"batch_size={args.batch_size} workers={workers} amp={amp_dtype is not None} channels_last={cuda} "
        f"threads={torch.get_num_threads()} cache_mb={args.cache_mb} steps={steps} rounds={args.rounds}",
        flush=True,
    )
    epoch = 0

    def real_pipeline() -> float:
        nonlocal epoch
        epoch += 1
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        return trainer.train_epoch(model, loader, len(loader), epoch).images_per_second

    def in_memory() -> float:
        return trainer.train_epoch(model, memory, len(memory), 0).images_per_second

    in_memory()  # warm-up: allocator, cudnn autotuning, worker start
    real_pipeline()
    real_rates: list[float] = []
    memory_rates: list[float] = []
    started = time.perf_counter()
    for index in range(args.rounds):
        memory_rates.append(in_memory())
        real_rates.append(real_pipeline())
        print(
            f"round={index + 1} in_memory_images_per_second={memory_rates[-1]:.1f} "
            f"real_pipeline_images_per_second={real_rates[-1]:.1f} "
            f"ratio={real_rates[-1] / memory_rates[-1]:.3f}",
            flush=True,
        )
    # On a shared machine other processes slow some rounds down; as timeit does, the best round of
    # each side is the least disturbed estimate. The median of the per-round ratios is printed too.
    real, mem = max(real_rates), max(memory_rates)
    median_ratio = statistics.median(r / m for r, m in zip(real_rates, memory_rates, strict=True))
    print(
        f"in_memory_images_per_second={mem:.1f} real_pipeline_images_per_second={real:.1f} "
        f"ratio={real / mem:.3f} (best of {args.rounds} rounds each; median per-round ratio "
        f"{median_ratio:.3f}; {time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
