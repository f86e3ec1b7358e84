"""The training job behind train.py: data, model, epochs, checkpoints, early stopping, test, export.

:func:`main` is what train.py calls. User mistakes (:class:`UserError`) end the job with exit
code 1 and one line on stderr and in the SageMaker failure file, without a traceback; a stop
request (SIGTERM) ends it with exit code 143 after the current step, the last per-epoch
checkpoint intact. Only rank 0 prints metric lines, writes checkpoints and exports.
Relies on torch and the other modules of this package.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from classifier import checkpoint as ckpt
from classifier.data import (
    DatasetSpec,
    ImageFolderDataset,
    IndexedDataset,
    default_num_workers,
    load_dataset_spec,
    make_loader,
)
from classifier.distributed import (
    DistributedContext,
    all_gather_strings,
    setup_distributed,
    teardown_distributed,
    torchrun_command,
)
from classifier.env import TrainingEnvironment
from classifier.evaluation import EvaluatedImage, evaluate_predictions
from classifier.evaluation_report import EVALUATION_JSON, write_evaluation
from classifier.export import export_model
from classifier.failures import UserError, report_failure
from classifier.hparams import HyperParameters, parse_hyperparameters
from classifier.imaging import IMAGENET_MEAN, IMAGENET_STD, eval_transform, resize_size, train_transform
from classifier.loop import StopRequest, Trainer, TrainingInterrupted
from classifier.metrics import (
    EpochMetrics,
    format_epoch_line,
    format_evaluation_line,
    format_rules_line,
    format_test_line,
)
from classifier.models import build_model, set_backbone_trainable
from classifier.optim import build_optimizer, build_scheduler
from classifier.profiling import Profiler, create_profiler

__all__ = ["EXIT_INTERRUPTED", "EXIT_USER_ERROR", "main"]

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 143  # 128 + SIGTERM, what a killed process would report


def _log(ctx: DistributedContext | None, message: str) -> None:
    if ctx is None or ctx.is_main:
        print(message, flush=True)


def _warn(ctx: DistributedContext | None, message: str) -> None:
    if ctx is None or ctx.is_main:
        print(f"warning: {message}", file=sys.stderr, flush=True)


def _data_roots(hp: HyperParameters, env: TrainingEnvironment) -> dict[str, Path]:
    """train/valid[/test] directories from the data-dir hyperparameter or the SM_CHANNEL_* channels."""
    root: Path | None = Path(hp.data_dir) if hp.data_dir else None
    if root is None and "train" not in env.channels and "training" in env.channels:
        root = env.channels["training"]
    if root is not None:
        roots = {name: root / name for name in ("train", "valid", "test") if (root / name).is_dir()}
        if "train" not in roots:
            raise UserError(
                f"the dataset root {root} has no train directory (expected {root}/train/<class>/...)"
            )
    else:
        roots = {name: env.channels[name] for name in ("train", "valid", "test") if name in env.channels}
        if "train" not in roots:
            raise UserError(
                "no train data: set the train channel (SM_CHANNEL_TRAIN) or the data-dir hyperparameter"
            )
    if "valid" not in roots:
        raise UserError(
            "no valid data: set the valid channel (SM_CHANNEL_VALID) or give data-dir a valid/ split"
        )
    return roots


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _amp_dtype(hp: HyperParameters, device: torch.device) -> torch.dtype | None:
    if not hp.amp or device.type != "cuda":
        return None
    # bf16 needs Ampere or newer in hardware (T4/V100 would only emulate it): fp16 + grad scaler there.
    return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16


@dataclass
class _Progress:
    """What a checkpoint carries besides the tensors: where training stands."""

    completed_epochs: int = 0
    best_accuracy: float = -1.0
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    best_metrics: dict[str, float] | None = None


def _compatible(saved: dict[str, Any], hp: HyperParameters, spec: DatasetSpec) -> str | None:
    """Why a checkpoint cannot be resumed by this job, or ``None`` when it can."""
    saved_hp = saved.get("hyperparameters", {})
    if saved.get("classes") != spec.classes:
        return "it was trained on different classes"
    for name in ("arch", "image-size"):
        if saved_hp.get(name) != hp.as_dict()[name]:
            return f"its {name} was {saved_hp.get(name)!r}"
    return None


@dataclass
class _Parts:
    """The objects one run trains with (what a checkpoint saves, and what feeds them)."""

    model: nn.Module
    head_name: str
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    channels_last: bool
    workers: int
    train_loader: DataLoader[Any]
    eval_loaders: dict[str, DataLoader[Any]]


class _Job:
    """One training run on one rank."""

    def __init__(
        self,
        hp: HyperParameters,
        env: TrainingEnvironment,
        ctx: DistributedContext,
        *,
        stop: StopRequest,
        process_start: float,
        source_dir: Path,
    ):
        self.hp = hp
        self.env = env
        self.ctx = ctx
        self.stop = stop
        self.process_start = process_start
        self.source_dir = source_dir
        self.checkpoint_dir = env.resolve_checkpoint_dir()

    def run(self) -> int:
        _seed_everything(self.hp.seed)
        spec = self._load_data()
        parts = self._build(spec)
        progress = self._resume(parts, spec)
        best_state = self._initial_best_state(parts.model, progress)
        profiler = create_profiler(
            self.hp.profile,
            output_dir=self.env.output_data_dir,
            device=self.ctx.device,
            batch_size=self.hp.batch_size,
            num_workers=parts.workers,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            process_start=self.process_start,
        )
        profiler.watch_model(parts.model, parts.criterion)  # a no-op unless an smdebug hook is registered
        try:
            trainer = Trainer(
                criterion=parts.criterion,
                optimizer=parts.optimizer,
                scheduler=parts.scheduler,
                scaler=parts.scaler,
                ctx=self.ctx,
                amp_dtype=parts.amp_dtype,
                channels_last=parts.channels_last,
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
                profiler=profiler,
                stop=self.stop,
                max_steps_per_epoch=self.hp.max_steps_per_epoch,
                show_progress=sys.stderr.isatty(),
            )
            best_state = self._train(
                parts=parts,
                spec=spec,
                trainer=trainer,
                profiler=profiler,
                progress=progress,
                best_state=best_state,
            )
            parts.model.load_state_dict(best_state)
            final: dict[str, Any] = {"best_epoch": progress.best_epoch, **(progress.best_metrics or {})}
            if "test" in parts.eval_loaders:
                loader = parts.eval_loaders["test"]
                test = trainer.evaluate(parts.model, loader, len(loader), "test")
                _log(self.ctx, format_test_line(test.loss, test.accuracy))
                final.update(test_loss=test.loss, test_accuracy=test.accuracy)
                if self.ctx.is_main:
                    evaluation = self._evaluate(parts, spec, trainer)
                    top5, macro_f1 = evaluation["top5Accuracy"], evaluation["macroAvg"]["f1"]
                    _log(self.ctx, format_evaluation_line(top5, macro_f1))
                    final.update(test_top5_accuracy=top5, test_macro_f1=macro_f1)
            rules_triggered = profiler.finish()
            if self.hp.profile:
                _log(self.ctx, format_rules_line(rules_triggered))
                final["rules_triggered"] = rules_triggered
        finally:
            profiler.close()
        if self.ctx.is_main:
            self._export(parts.model, spec, final, progress)
        return 0

    def _evaluate(self, parts: _Parts, spec: DatasetSpec, trainer: Trainer) -> dict[str, Any]:
        """Evaluate the exported model on the whole test split (this rank alone); write the report.

        evaluation.json and evaluation.html go to the output data dir (output.tar.gz), and
        evaluation.json also into the model dir, so it travels in model.tar.gz with the model.
        """
        split = spec.splits["test"]
        hp = self.hp
        dataset = ImageFolderDataset(split.samples, eval_transform(hp.image_size), resize_size(hp.image_size))
        loader = make_loader(
            IndexedDataset(dataset),
            batch_size=hp.batch_size * 2,
            train=False,
            num_workers=parts.workers,
            pin_memory=self.ctx.device.type == "cuda",
        )
        probabilities, indices = trainer.predict(parts.model, loader)
        images = [
            EvaluatedImage(split.samples[i].path.relative_to(split.root).as_posix(), split.samples[i].label)
            for i in indices.tolist()
        ]
        document = evaluate_predictions(probabilities.numpy(), images, spec.classes, spec.labels)
        json_path, html_path = write_evaluation(self.env.output_data_dir, document, split.root)
        self.env.model_dir.mkdir(parents=True, exist_ok=True)
        (self.env.model_dir / EVALUATION_JSON).write_bytes(json_path.read_bytes())
        _log(self.ctx, f"evaluation written to {json_path} and {html_path}")
        return document

    def _load_data(self) -> DatasetSpec:
        hp, ctx = self.hp, self.ctx
        report = self.env.output_data_dir / "unreadable-images.txt"
        spec = load_dataset_spec(
            _data_roots(hp, self.env),
            max_unreadable_fraction=hp.max_unreadable_fraction,
            shard=(ctx.rank, ctx.world_size),
            exchange_unreadable=lambda paths: all_gather_strings(paths, ctx),
            report_path=report if ctx.is_main else None,
        )
        sizes = " ".join(f"{name}={len(split.samples)}" for name, split in spec.splits.items())
        _log(ctx, f"dataset: {len(spec.classes)} classes, {sizes} images")
        for split in spec.splits.values():
            if split.unreadable:
                _warn(
                    ctx,
                    f"skipped {len(split.unreadable)} unreadable {split.name} images (listed in {report})",
                )
        if "test" not in spec.splits:
            _warn(ctx, "no test split: the final test evaluation is skipped")
        return spec

    def _build(self, spec: DatasetSpec) -> _Parts:
        hp, ctx = self.hp, self.ctx
        built = build_model(
            hp.arch,
            len(spec.classes),
            pretrained=hp.pretrained,
            image_size=hp.image_size,
            weights_channel=self.env.channels.get("weights"),
        )
        model = built.model
        cuda = ctx.device.type == "cuda"
        channels_last = hp.channels_last and cuda
        model.to(ctx.device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        if cuda:
            torch.backends.cudnn.benchmark = True
        n_params = sum(p.numel() for p in model.parameters())
        _log(ctx, f"model: {hp.arch} ({n_params / 1e6:.1f}M parameters), {built.weights_source}")

        workers = hp.num_workers
        if workers < 0:
            workers = default_num_workers(cuda=cuda, processes_per_host=ctx.local_world_size)
        loader_args: dict[str, Any] = {
            "num_workers": workers,
            "pin_memory": cuda,
            "seed": hp.seed,
            "rank": ctx.rank,
            "world_size": ctx.world_size,
        }
        draft_train = math.ceil(hp.image_size / math.sqrt(hp.min_crop_scale))
        cache_bytes = hp.cache_mb * 1024 * 1024
        train_set = ImageFolderDataset(
            spec.splits["train"].samples,
            train_transform(hp.image_size, hp.min_crop_scale),
            draft_train,
            cache_bytes=cache_bytes,
        )
        train_loader = make_loader(train_set, batch_size=hp.batch_size, train=True, **loader_args)
        eval_transform_ = eval_transform(hp.image_size)
        eval_loaders = {
            name: make_loader(
                ImageFolderDataset(
                    split.samples,
                    eval_transform_,
                    resize_size(hp.image_size),
                    cache_bytes=cache_bytes if name == "valid" else 0,  # test is read once
                ),
                batch_size=hp.batch_size * 2,
                train=False,
                **loader_args,
            )
            for name, split in spec.splits.items()
            if name != "train"
        }
        steps_per_epoch = len(train_loader)
        if hp.max_steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, hp.max_steps_per_epoch)
        amp_dtype = _amp_dtype(hp, ctx.device)
        _log(
            ctx,
            f"device: {ctx.device.type}, processes={ctx.world_size}, workers={workers}, "
            f"batch-size={hp.batch_size}, steps-per-epoch={steps_per_epoch}, "
            f"amp={amp_dtype is not None}, channels-last={channels_last}",
        )
        optimizer = build_optimizer(
            model, hp.optimizer, lr=hp.lr, weight_decay=hp.weight_decay, momentum=hp.momentum
        )
        scheduler = build_scheduler(
            optimizer,
            total_steps=steps_per_epoch * hp.epochs,
            warmup_steps=round(hp.warmup_epochs * steps_per_epoch),
        )
        return _Parts(
            model=model,
            head_name=built.head_name,
            criterion=nn.CrossEntropyLoss(label_smoothing=hp.label_smoothing),
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
            amp_dtype=amp_dtype,
            channels_last=channels_last,
            workers=workers,
            train_loader=train_loader,
            eval_loaders=eval_loaders,
        )

    def _train(
        self,
        *,
        parts: _Parts,
        spec: DatasetSpec,
        trainer: Trainer,
        profiler: Profiler,
        progress: _Progress,
        best_state: dict[str, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Run the remaining epochs; return the best epoch's weights."""
        hp, ctx, model = self.hp, self.ctx, parts.model
        wrapped: nn.Module = model
        wrapped_frozen: bool | None = None
        valid_loader = parts.eval_loaders["valid"]
        for epoch in range(progress.completed_epochs + 1, hp.epochs + 1):
            frozen = epoch <= hp.freeze_epochs
            set_backbone_trainable(model, parts.head_name, not frozen)
            if ctx.distributed and frozen != wrapped_frozen:
                # DDP fixes the set of trained parameters when it wraps: wrap again when it changes.
                device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
                wrapped = DistributedDataParallel(model, device_ids=device_ids)
            wrapped_frozen = frozen
            parts.train_loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
            epoch_start = time.perf_counter()
            steps = len(parts.train_loader)
            train = trainer.train_epoch(wrapped, parts.train_loader, steps, epoch, freeze_norms=frozen)
            valid = trainer.evaluate(model, valid_loader, len(valid_loader), "valid")
            metrics = EpochMetrics(
                epoch=epoch,
                train_loss=train.loss,
                train_accuracy=train.accuracy,
                valid_loss=valid.loss,
                valid_accuracy=valid.accuracy,
                epoch_seconds=time.perf_counter() - epoch_start,
                images_per_second=train.images_per_second,
            )
            _log(ctx, format_epoch_line(metrics))
            failed = train.failed_images + valid.failed_images
            if failed:
                _warn(ctx, f"{failed} images failed to decode during epoch {epoch} and were skipped")
            profiler.epoch_end(epoch, metrics.as_dict())
            progress.completed_epochs = epoch
            if valid.accuracy > progress.best_accuracy:
                progress.best_accuracy, progress.best_epoch = valid.accuracy, epoch
                progress.epochs_without_improvement = 0
                progress.best_metrics = metrics.as_dict()
                best_state = _cpu_copy(model)
                if ctx.is_main:
                    ckpt.atomic_save(best_state, self.checkpoint_dir / ckpt.BEST_MODEL_FILE)
            else:
                progress.epochs_without_improvement += 1
            if ctx.is_main:
                self._save_checkpoint(parts, spec, progress)
            if hp.early_stop_patience and progress.epochs_without_improvement >= hp.early_stop_patience:
                _log(
                    ctx,
                    f"early stopping: valid_accuracy did not improve for {hp.early_stop_patience} epochs "
                    f"(best epoch={progress.best_epoch})",
                )
                break
        return best_state

    def _export(
        self, model: nn.Module, spec: DatasetSpec, final: dict[str, Any], progress: _Progress
    ) -> None:
        hp = self.hp
        export_model(
            self.env.model_dir,
            model,
            arch=hp.arch,
            classes=spec.classes,
            labels=spec.labels,
            image_size=hp.image_size,
            resize_size=resize_size(hp.image_size),
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            hyperparameters=hp.as_dict(),
            metrics=final,
            package_dir=Path(__file__).resolve().parent,
            inference_script=self.source_dir / "inference.py",
        )
        _log(self.ctx, f"model saved to {self.env.model_dir} (best epoch={progress.best_epoch})")

    def _initial_best_state(self, model: nn.Module, progress: _Progress) -> dict[str, torch.Tensor]:
        best_file = self.checkpoint_dir / ckpt.BEST_MODEL_FILE
        if progress.completed_epochs and best_file.is_file():
            loaded = torch.load(best_file, map_location="cpu", weights_only=True)
            if isinstance(loaded, dict):
                return loaded
        return _cpu_copy(model)

    def _resume(self, parts: _Parts, spec: DatasetSpec) -> _Progress:
        path = self.checkpoint_dir / ckpt.CHECKPOINT_FILE
        try:
            saved = ckpt.load_checkpoint(path)
        except Exception as error:  # a damaged checkpoint must not block a fresh start
            _warn(self.ctx, f"ignoring unreadable checkpoint {path}: {type(error).__name__}: {error}")
            return _Progress()
        if saved is None:
            return _Progress()
        reason = _compatible(saved, self.hp, spec)
        if reason:
            _warn(self.ctx, f"not resuming from {path}: {reason}; training from the start")
            return _Progress()
        parts.model.load_state_dict(saved["model"])
        parts.optimizer.load_state_dict(saved["optimizer"])
        parts.scheduler.load_state_dict(saved["scheduler"])
        parts.scaler.load_state_dict(saved["scaler"])
        ckpt.restore_rng_state(saved.get("rng", {}))
        progress = _Progress(**saved["progress"])
        _log(self.ctx, f"resumed from checkpoint epoch={progress.completed_epochs} ({path})")
        return progress

    def _save_checkpoint(self, parts: _Parts, spec: DatasetSpec, progress: _Progress) -> None:
        state = {
            "model": _cpu_copy(parts.model),
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict(),
            "scaler": parts.scaler.state_dict(),
            "progress": vars(progress).copy(),
            "rng": ckpt.capture_rng_state(),
            "classes": spec.classes,
            "hyperparameters": self.hp.as_dict(),
        }
        ckpt.atomic_save(state, self.checkpoint_dir / ckpt.CHECKPOINT_FILE)


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        key: value.detach().to("cpu", copy=True).contiguous() for key, value in model.state_dict().items()
    }


def main(argv: Sequence[str], *, process_start: float, script: Path) -> int:
    """Run the training job for train.py ``script`` with its arguments; return the exit code."""
    env = TrainingEnvironment.from_environ()
    relaunch = torchrun_command(env, str(script), argv)
    if relaunch is not None:
        print(f"launching {env.num_gpus} processes per host with torchrun", flush=True)
        os.execv(relaunch[0], relaunch)
    stop = StopRequest()
    stop.install()
    ctx: DistributedContext | None = None
    try:
        hp = parse_hyperparameters(argv, env.hyperparameters)
        ctx = setup_distributed()
        return _Job(
            hp, env, ctx, stop=stop, process_start=process_start, source_dir=script.resolve().parent
        ).run()
    except UserError as error:
        if ctx is None or ctx.is_main:
            report_failure(str(error))
        return EXIT_USER_ERROR
    except TrainingInterrupted as error:
        _log(ctx, f"training interrupted ({error}); the last completed epoch's checkpoint is kept")
        return stop.exit_code or EXIT_INTERRUPTED
    except Exception as error:
        if stop.requested:
            _log(ctx, f"training interrupted by {stop.signal_name} ({type(error).__name__}: {error})")
            return stop.exit_code or EXIT_INTERRUPTED
        if ctx is None or ctx.is_main:
            report_failure(f"unexpected error: {type(error).__name__}: {error}")
        raise
    finally:
        teardown_distributed()
