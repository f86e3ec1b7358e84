"""Throughput with in-job profiling on vs off: same model, same data, side by side in one run.

Trains a torchvision ResNet on an in-memory synthetic batch stream through a DataLoader, in
alternating rounds (off, on, off, on, ...) so that load from other processes affects both sides
alike. An "on" round creates the real profiler (``create_profiler(True, ...)``: per-step marks
plus the 500 ms system sampler thread) and calls every mark the training loop calls; an "off"
round uses the no-op profiler. Only the training steps are timed; the one-off cost of
``finish()`` (rules + report.html) is measured and printed separately.

    PYTHONPATH=training python bench/profiling_overhead.py [--rounds 12] [--steps 6] [--threads N]

Prints images/s for each side (median over rounds), the ratio on/off (median of the per-round
ratios, and best round vs best round) and the overhead in %, both per wall-clock second and per
CPU-second of this process (the latter includes the sampler thread's CPU time and is less exposed
to other processes on a shared machine). Last, the direct cost of the instrumentation: CPU time of
the five per-step marks and of one sampler tick, and the overhead they imply for this step time.
Relies on torch, torchvision and classifier.profiling.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader, TensorDataset

from classifier.profiling import Profiler, create_profiler


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=12, help="rounds; each runs both sides back to back")
    parser.add_argument("--steps", type=int, default=6, help="training steps per side per round")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    return parser.parse_args()


def train_round(
    profiler: Profiler,
    model: torch.nn.Module,
    loader: DataLoader[tuple[torch.Tensor, ...]],
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    steps: int,
) -> tuple[float, float]:
    """Run ``steps`` training steps with the profiler marks.

    Returns images per wall-clock second and images per CPU second of this process (all its
    threads, the sampler's included), the latter being insensitive to other processes' load.
    """
    loss_fn = torch.nn.CrossEntropyLoss()
    images = 0
    iterator = iter(loader)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        profiler.step_start()
        try:
            x, y = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            x, y = next(iterator)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        profiler.data_ready()
        loss = loss_fn(model(x), y)
        profiler.forward_done()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        profiler.backward_done()
        optimizer.step()
        loss.item()  # the loop reads the loss every step, as train.py does for its running mean
        profiler.step_end(x.shape[0])
        images += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return images / (time.perf_counter() - start), images / (time.process_time() - cpu_start)


def main() -> None:
    args = parse_args()
    process_start = time.time()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torchvision.models.get_model(args.arch, weights=None, num_classes=4).to(device)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    n = args.batch_size * 8
    data = TensorDataset(torch.randn(n, 3, args.image_size, args.image_size), torch.randint(0, 4, (n,)))
    loader = DataLoader(
        data,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.num_workers,
        persistent_workers=args.num_workers > 0,
        drop_last=True,
    )
    print(
        f"device={device} arch={args.arch} image_size={args.image_size} batch_size={args.batch_size} "
        f"threads={torch.get_num_threads()} rounds={args.rounds} x {args.steps} steps per side"
    )

    train_round(
        create_profiler(
            False,
            output_dir=Path(),
            device=device,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            process_start=process_start,
        ),
        model,
        loader,
        optimizer,
        device,
        3,
    )  # warm-up: allocator, kernels, thread pools

    wall: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    finish_seconds = 0.0
    rules_triggered = 0
    with tempfile.TemporaryDirectory(prefix="profiling-bench-") as tmp:
        for round_index in range(args.rounds):
            for side in ("off", "on") if round_index % 2 == 0 else ("on", "off"):
                profiler = create_profiler(
                    side == "on",
                    output_dir=Path(tmp) / f"round{round_index}",
                    device=device,
                    batch_size=args.batch_size,
                    num_workers=args.num_workers,
                    process_start=process_start,
                )
                try:
                    wall_ips, cpu_ips = train_round(profiler, model, loader, optimizer, device, args.steps)
                    wall[side].append(wall_ips)
                    cpu[side].append(cpu_ips)
                    if side == "on" and round_index == args.rounds - 1:
                        profiler.epoch_end(1, {"train_loss": 1.0})
                        t0 = time.perf_counter()
                        rules_triggered = profiler.finish()
                        finish_seconds = time.perf_counter() - t0
                finally:
                    profiler.close()

    for label, values in (("wall-clock", wall), ("per CPU-second", cpu)):
        off, on = statistics.median(values["off"]), statistics.median(values["on"])
        # each round runs both sides back to back: the median of the per-round ratios cancels drift
        ratio = statistics.median(a / b for a, b in zip(values["on"], values["off"], strict=True))
        print(f"[{label}] profiling off: {off:8.1f} images/s   profiling on: {on:8.1f} images/s")
        print(f"[{label}]   rounds off: {', '.join(f'{v:.1f}' for v in values['off'])}")
        print(f"[{label}]   rounds on:  {', '.join(f'{v:.1f}' for v in values['on'])}")
        print(
            f"[{label}] ratio on/off = {ratio:.4f} (median of per-round ratios) -> overhead "
            f"{100 * (1 - ratio):+.2f}% of throughput (target <= 5%)"
        )
        # on a shared machine the least disturbed round of each side is the cleanest comparison
        best = max(values["on"]) / max(values["off"])
        print(f"[{label}] best round on / best round off = {best:.4f} -> overhead {100 * (1 - best):+.2f}%")
    spread = statistics.pstdev(wall["off"]) / statistics.mean(wall["off"])
    if spread > 0.05:
        print(
            f"note: throughput varied {100 * spread:.0f}% between rounds with profiling off (other load on "
            "this machine); differences below that are noise - see the direct cost below"
        )
    print(
        f"one-off finish() (11 rules + report.html): {finish_seconds:.2f} s, "
        f"rules_triggered={rules_triggered}"
    )
    mark_us, tick_ms = cost_of_instrumentation(device)
    step_seconds = args.batch_size / statistics.median(wall["off"])
    estimate = 100 * (mark_us * 1e-6 / step_seconds + tick_ms * 1e-3 / 0.5 / max(1, torch.get_num_threads()))
    print(
        f"direct cost: {mark_us:.2f} us of marks per step (step {step_seconds * 1000:.0f} ms), "
        f"{tick_ms:.2f} ms CPU per 500 ms sampler tick -> estimated overhead {estimate:.3f}%"
    )


def cost_of_instrumentation(device: torch.device) -> tuple[float, float]:
    """CPU cost of the five per-step marks (microseconds) and of one sampler tick (milliseconds)."""
    from classifier.profiling.recorder import StepRecorder
    from classifier.profiling.sampler import SystemSampler

    recorder = StepRecorder(device)
    n = 20_000
    start = time.process_time()
    for _ in range(n):
        recorder.step_start()
        recorder.data_ready()
        recorder.forward_done()
        recorder.backward_done()
        recorder.step_end(32)
    recorder.finalize()
    mark_us = (time.process_time() - start) / n * 1e6
    sampler = SystemSampler(sample_gpus=device.type == "cuda")
    sampler.start()
    ticks = 200
    start = time.process_time()
    for _ in range(ticks):
        sampler.sample_once()
    tick_ms = (time.process_time() - start) / ticks * 1e3
    sampler.stop()
    return mark_us, tick_ms


if __name__ == "__main__":
    main()
