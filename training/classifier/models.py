"""torchvision architectures with the classification head replaced, and pretrained-weight resolution.

``pretrained`` is ``imagenet``, ``none`` or a path to a state_dict. ImageNet weights are looked
for, in order, in TORCH_HOME's hub cache (torchvision's own file names), in the ``weights``
channel (SM_CHANNEL_WEIGHTS), and finally downloaded by torch.hub; when none works the error
says where it looked. Random initialisation happens only for ``none``, never as a fallback.
The head is the model's last ``nn.Linear`` (true for every supported torchvision classifier);
weights whose head does not fit the number of classes are loaded without it.
Relies on torch and torchvision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from classifier.failures import UserError

__all__ = [
    "BuiltModel",
    "available_archs",
    "build_model",
    "create_architecture",
    "find_head",
    "imagenet_weight_files",
    "load_weights",
    "set_backbone_trainable",
]

# Classifiers whose head is not a single final Linear (auxiliary heads or a conv head).
_UNSUPPORTED = {"googlenet", "inception_v3", "squeezenet1_0", "squeezenet1_1"}
_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


@dataclass
class BuiltModel:
    """The model, the name of its head module, and where its weights came from."""

    model: nn.Module
    head_name: str
    weights_source: str


def available_archs() -> list[str]:
    """torchvision classification architectures this package can fine-tune."""
    return [
        name for name in torchvision.models.list_models(module=torchvision.models) if name not in _UNSUPPORTED
    ]


def find_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """The last ``nn.Linear`` in ``model`` and its qualified name."""
    found: tuple[str, nn.Linear] | None = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found = (name, module)
    if found is None:
        raise UserError(f"{type(model).__name__} has no Linear classification head to replace")
    return found


def _replace_head(model: nn.Module, num_classes: int) -> str:
    name, old = find_head(model)
    parent_name, _, attribute = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attribute, nn.Linear(old.in_features, num_classes))
    return name


def create_architecture(arch: str, num_classes: int) -> tuple[nn.Module, str]:
    """A randomly initialised ``arch`` with a ``num_classes`` head; returns ``(model, head_name)``."""
    archs = available_archs()
    if arch not in archs:
        close = [a for a in archs if a.startswith(re.sub(r"\d.*$", "", arch))] or archs
        raise UserError(f"unknown arch {arch!r}; choose one of: {', '.join(close)}")
    model = torchvision.models.get_model(arch, weights=None)
    head_name = _replace_head(model, num_classes)
    return model, head_name


def imagenet_weight_files(arch: str) -> list[str]:
    """torchvision's file names for ``arch``'s ImageNet weights, the default first."""
    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        return []
    ordered = [enum.DEFAULT, *[w for w in enum if w is not enum.DEFAULT]]
    return [Path(urlparse(w.url).path).name for w in ordered]


def _default_weights_url(arch: str) -> str | None:
    try:
        return str(torchvision.models.get_model_weights(arch).DEFAULT.url)
    except (ValueError, KeyError):
        return None


def _find_in_channel(arch: str, channel: Path, names: list[str]) -> Path | None:
    if not channel.is_dir():
        return channel if channel.is_file() else None
    for name in [*names, f"{arch}.pth", f"{arch}.pt"]:
        if (channel / name).is_file():
            return channel / name
    candidates = sorted(p for p in channel.iterdir() if p.suffix in (".pth", ".pt") and p.is_file())
    return candidates[0] if len(candidates) == 1 else None


def _resolve_imagenet(arch: str, weights_channel: Path | None) -> tuple[Mapping[str, torch.Tensor], str]:
    names = imagenet_weight_files(arch)
    hub_checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    looked: list[str] = []
    for name in names:
        if (hub_checkpoints / name).is_file():
            path = hub_checkpoints / name
            return _read_state_dict(path), str(path)
    looked.append(f"{hub_checkpoints}/{names[0] if names else arch + '-*.pth'} (TORCH_HOME cache)")
    if weights_channel is not None:
        found = _find_in_channel(arch, weights_channel, names)
        if found is not None:
            return _read_state_dict(found), str(found)
        looked.append(f"{weights_channel} (weights channel: no {names[0] if names else arch + '.pth'})")
    else:
        looked.append("the weights channel (SM_CHANNEL_WEIGHTS not set)")
    url = _default_weights_url(arch)
    if url is None:
        raise UserError(
            f"torchvision has no ImageNet weights for arch {arch!r}; use pretrained=none or a path"
        )
    try:
        state = torch.hub.load_state_dict_from_url(url, progress=False, check_hash=True, weights_only=True)
    except Exception as error:
        looked.append(f"{url} (download failed: {type(error).__name__}: {error})")
        raise UserError(
            f"ImageNet weights for {arch} not found; looked in: {'; '.join(looked)}. Put the file in "
            f"TORCH_HOME/hub/checkpoints or a 'weights' channel, or set pretrained=none for random init"
        ) from None
    return state, url


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise UserError(f"cannot read weights file {path}: {type(error).__name__}: {error}") from None
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = loaded.get(key)
            if isinstance(inner, Mapping):
                loaded = inner
                break
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise UserError(f"weights file {path} does not hold a state_dict (a mapping of names to tensors)")
    return loaded


def _normalise_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    result: dict[str, torch.Tensor] = {}
    for raw_key, value in state.items():
        key = raw_key.removeprefix("module.").removeprefix("_orig_mod.")
        match = _DENSENET_KEY.match(key)  # torchvision's old densenet names ("norm.1" -> "norm1")
        result[match.group(1) + match.group(2) if match else key] = value
    return result


def load_weights(model: nn.Module, head_name: str, state: Mapping[str, torch.Tensor], source: str) -> bool:
    """Load ``state`` into ``model``; the head only when its shape fits. Returns whether the head loaded."""
    incoming = _normalise_keys(state)
    own = model.state_dict()
    head_prefix = head_name + "."
    head_keys = [k for k in own if k.startswith(head_prefix)]
    head_fits = all(k in incoming and incoming[k].shape == own[k].shape for k in head_keys)
    if not head_fits:
        incoming = {k: v for k, v in incoming.items() if not k.startswith(head_prefix)}
    missing = [k for k in own if k not in incoming and (head_fits or not k.startswith(head_prefix))]
    unexpected = [k for k in incoming if k not in own]
    wrong_shape = [k for k in incoming if k in own and incoming[k].shape != own[k].shape]
    if missing or unexpected or wrong_shape:
        details = []
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if keys:
                details.append(f"{title} {keys[:5]}{' ...' if len(keys) > 5 else ''}")
        raise UserError(f"weights from {source} do not fit this architecture: {'; '.join(details)}")
    model.load_state_dict(incoming, strict=head_fits)
    return head_fits


def build_model(
    arch: str,
    num_classes: int,
    *,
    pretrained: str,
    image_size: int,
    weights_channel: Path | None = None,
) -> BuiltModel:
    """Create ``arch`` with a ``num_classes`` head and the requested initial weights.

    Checks with one dummy forward pass that the architecture accepts ``image_size``.
    """
    model, head_name = create_architecture(arch, num_classes)
    if pretrained == "none":
        source = "random initialisation (pretrained=none)"
    elif pretrained == "imagenet":
        state, origin = _resolve_imagenet(arch, weights_channel)
        load_weights(model, head_name, state, origin)
        source = f"ImageNet weights from {origin}"
    else:
        path = Path(pretrained)
        if not path.is_file():
            raise UserError(
                f"pretrained must be imagenet, none or a weights file; {pretrained!r} is none of these"
            )
        head_loaded = load_weights(model, head_name, _read_state_dict(path), str(path))
        source = f"weights from {path}" + ("" if head_loaded else " (head re-initialised)")
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size))
    except (RuntimeError, AssertionError, ValueError) as error:
        raise UserError(f"arch {arch} cannot take image-size {image_size}: {error}") from None
    return BuiltModel(model=model, head_name=head_name, weights_source=source)


def set_backbone_trainable(model: nn.Module, head_name: str, trainable: bool) -> None:
    """Freeze (``False``) or unfreeze every parameter outside the head; the head always trains."""
    head_prefix = head_name + "."
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(trainable or name.startswith(head_prefix))


def freeze_backbone_norms(model: nn.Module) -> None:
    """Put the backbone's normalisation layers in eval mode (keep their running statistics)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.eval()
