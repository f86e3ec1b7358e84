"""Architectures, head replacement and pretrained-weight resolution (never a silent random init)."""

import pytest
import torch
import torchvision
from torch import nn

from classifier.failures import UserError
from classifier.models import (
    available_archs,
    build_model,
    create_architecture,
    find_head,
    imagenet_weight_files,
    set_backbone_trainable,
)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """A TORCH_HOME with no cached weights, and downloads that fail like they do offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def offline(url, **kwargs):
        raise OSError(f"network unreachable: {url}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    return tmp_path / "torch-home"


def _imagenet_state(arch: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return torchvision.models.get_model(arch, weights=None).state_dict()


@pytest.mark.parametrize(
    ("arch", "head"),
    [("resnet18", "fc"), ("efficientnet_b0", "classifier.1"), ("mobilenet_v3_large", "classifier.3")],
)
def test_head_is_replaced_for_the_number_of_classes(arch, head):
    model, head_name = create_architecture(arch, 7)
    assert head_name == head
    assert find_head(model)[1].out_features == 7


def test_required_architectures_are_available():
    required = {
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "efficientnet_b0",
        "efficientnet_b3",
        "mobilenet_v3_large",
        "convnext_tiny",
    }
    assert required <= set(available_archs())
    assert "inception_v3" not in available_archs()


def test_unknown_arch_is_a_user_error_with_suggestions():
    with pytest.raises(UserError, match=r"unknown arch 'resnet19'.*resnet18"):
        create_architecture("resnet19", 3)


def test_pretrained_none_is_random_init_and_says_so(empty_torch_home):
    built = build_model("resnet18", 3, pretrained="none", image_size=32)
    assert "random" in built.weights_source


def test_missing_imagenet_weights_fail_and_list_every_place_looked(empty_torch_home, tmp_path):
    with pytest.raises(UserError) as caught:
        build_model("resnet18", 3, pretrained="imagenet", image_size=32, weights_channel=tmp_path / "w")
    message = str(caught.value)
    assert str(empty_torch_home / "hub" / "checkpoints") in message
    assert "weights channel" in message
    assert "download failed" in message
    assert "resnet18-f37072fd.pth" in message


def test_imagenet_weights_come_from_the_torch_home_cache(empty_torch_home):
    name = imagenet_weight_files("resnet18")[0]
    cache = empty_torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    state = _imagenet_state("resnet18")
    torch.save(state, cache / name)
    built = build_model("resnet18", 3, pretrained="imagenet", image_size=32)
    assert str(cache / name) in built.weights_source
    assert torch.equal(built.model.state_dict()["conv1.weight"], state["conv1.weight"])
    assert built.model.fc.out_features == 3


def test_imagenet_weights_come_from_the_weights_channel(empty_torch_home, tmp_path):
    channel = tmp_path / "weights"
    channel.mkdir()
    state = _imagenet_state("resnet18")
    torch.save(state, channel / "resnet18.pth")
    built = build_model("resnet18", 4, pretrained="imagenet", image_size=32, weights_channel=channel)
    assert torch.equal(built.model.state_dict()["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"])


def test_weights_path_with_matching_head_loads_everything(tmp_path):
    model, _ = create_architecture("resnet18", 5)
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "m.pt")
    built = build_model("resnet18", 5, pretrained=str(tmp_path / "m.pt"), image_size=32)
    assert torch.equal(built.model.fc.weight, model.fc.weight)
    assert "re-initialised" not in built.weights_source


def test_weights_for_another_architecture_are_rejected(tmp_path):
    torch.save(_imagenet_state("resnet34"), tmp_path / "r34.pth")
    with pytest.raises(UserError, match="do not fit this architecture"):
        build_model("resnet18", 3, pretrained=str(tmp_path / "r34.pth"), image_size=32)


def test_a_non_state_dict_file_is_rejected(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot read weights file"):
        build_model("resnet18", 3, pretrained=str(tmp_path / "junk.pth"), image_size=32)


def test_an_unknown_pretrained_value_is_rejected():
    with pytest.raises(UserError, match="pretrained must be imagenet, none or a weights file"):
        build_model("resnet18", 3, pretrained="imagnet", image_size=32)


def test_freezing_keeps_only_the_head_trainable():
    model, head = create_architecture("resnet18", 3)
    set_backbone_trainable(model, head, False)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    set_backbone_trainable(model, head, True)
    assert all(p.requires_grad for p in model.parameters())


def test_image_size_the_architecture_cannot_take_is_explained():
    with pytest.raises(UserError, match="cannot take image-size"):
        build_model("vit_b_16", 2, pretrained="none", image_size=64)


def test_head_finder_requires_a_linear_layer():
    with pytest.raises(UserError):
        find_head(nn.Sequential(nn.Conv2d(3, 3, 1)))
