"""Dataset rules (docs/contracts.md#dataset): classes, labels, split mismatch, unreadable files, loaders."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from classifier.data import (
    ImageFolderDataset,
    ShardSampler,
    collate_skipping_failures,
    default_num_workers,
    display_label,
    load_dataset_spec,
    make_loader,
)
from classifier.failures import UserError
from classifier.imaging import eval_transform


def _make_split(root: Path, classes: dict[str, int], size: int = 24) -> Path:
    for name, count in classes.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("RGB", (size, size), (i * 7 % 255, 80, 160)).save(folder / f"{i}.jpg")
    return root


def _dataset(tmp_path: Path, per_class: int = 10) -> dict[str, Path]:
    classes = {"001.Golden_retriever": per_class, "002.Beagle": per_class}
    return {
        "train": _make_split(tmp_path / "train", classes),
        "valid": _make_split(tmp_path / "valid", dict.fromkeys(classes, 3)),
    }


@pytest.mark.parametrize(
    ("directory", "label"),
    [
        ("001.Affenpinscher", "Affenpinscher"),
        ("052.German_shepherd_dog", "German shepherd dog"),
        ("Beagle", "Beagle"),
        ("10_Irish_wolfhound", "Irish wolfhound"),
        ("123", "123"),
    ],
)
def test_display_label_drops_prefix_and_underscores(directory, label):
    assert display_label(directory) == label


def test_classes_are_sorted_train_dirs_and_non_images_are_ignored(tmp_path):
    roots = _dataset(tmp_path)
    (roots["train"] / "002.Beagle" / "notes.txt").write_text("not an image")
    (roots["train"] / "002.Beagle" / ".DS_Store").write_bytes(b"\0")
    spec = load_dataset_spec(roots)
    assert spec.classes == ["001.Golden_retriever", "002.Beagle"]
    assert spec.labels == ["Golden retriever", "Beagle"]
    assert len(spec.splits["train"].samples) == 20
    assert {s.label for s in spec.splits["train"].samples} == {0, 1}


def test_mismatched_splits_name_the_difference(tmp_path):
    roots = _dataset(tmp_path)
    _make_split(roots["valid"], {"003.Poodle": 1})
    with pytest.raises(UserError, match=r"valid split.*not in train \[003.Poodle\]"):
        load_dataset_spec(roots)


def test_missing_class_in_test_split_is_named(tmp_path):
    roots = _dataset(tmp_path)
    roots["test"] = _make_split(tmp_path / "test", {"001.Golden_retriever": 2})
    with pytest.raises(UserError, match=r"test split.*missing \[002.Beagle\]"):
        load_dataset_spec(roots)


def test_few_unreadable_files_are_skipped_and_counted(tmp_path):
    roots = _dataset(tmp_path, per_class=100)
    (roots["train"] / "002.Beagle" / "broken.jpg").write_bytes(b"garbage")
    spec = load_dataset_spec(roots, report_path=tmp_path / "out" / "unreadable.txt")
    train = spec.splits["train"]
    assert [p.name for p in train.unreadable] == ["broken.jpg"]
    assert len(train.samples) == 200
    assert "broken.jpg" in (tmp_path / "out" / "unreadable.txt").read_text()


def test_more_than_one_percent_unreadable_fails_with_the_list(tmp_path):
    roots = _dataset(tmp_path, per_class=10)
    for i in range(3):
        (roots["train"] / "001.Golden_retriever" / f"bad{i}.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(UserError) as caught:
        load_dataset_spec(roots)
    message = str(caught.value)
    assert "3 of 23 train images" in message
    assert "bad0.png" in message and "max-unreadable-fraction" in message


def test_unreadable_threshold_is_configurable(tmp_path):
    roots = _dataset(tmp_path, per_class=10)
    (roots["train"] / "002.Beagle" / "bad.jpg").write_bytes(b"nope")
    spec = load_dataset_spec(roots, max_unreadable_fraction=0.1)
    assert len(spec.splits["train"].unreadable) == 1


def test_dataset_root_given_as_train_channel_is_explained(tmp_path):
    roots = _dataset(tmp_path)
    with pytest.raises(UserError, match="looks like a dataset root"):
        load_dataset_spec({"train": tmp_path, "valid": roots["valid"]})


def test_a_split_without_images_is_a_user_error(tmp_path):
    roots = _dataset(tmp_path)
    for image in roots["valid"].rglob("*.jpg"):
        image.unlink()
    with pytest.raises(UserError, match=r"valid split .* has no readable images"):
        load_dataset_spec(roots)


def test_missing_split_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a directory"):
        load_dataset_spec({"train": tmp_path / "nope"})


def test_collate_drops_failed_items_and_counts_them():
    item = (torch.zeros(3, 4, 4, dtype=torch.uint8), 1)
    images, labels, failed = collate_skipping_failures([item, None, item])
    assert images.shape == (2, 3, 4, 4)
    assert labels.tolist() == [1, 1]
    assert failed == 1


def test_dataset_yields_none_for_a_file_that_broke_after_the_scan(tmp_path):
    roots = _dataset(tmp_path)
    spec = load_dataset_spec(roots)
    samples = spec.splits["train"].samples
    samples[0].path.write_bytes(b"corrupted later")
    dataset = ImageFolderDataset(samples, eval_transform(16), 16)
    assert dataset[0] is None
    assert dataset[1][0].shape == (3, 16, 16)


def test_shard_sampler_covers_every_index_exactly_once():
    shards = [list(ShardSampler(10, rank, 3)) for rank in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(10))


def test_training_loader_is_deterministic_per_epoch_and_drops_a_lone_last_sample(tmp_path):
    roots = _dataset(tmp_path, per_class=5)  # 10 images, batch 3 -> last batch of 1 is dropped
    spec = load_dataset_spec(roots)
    dataset = ImageFolderDataset(spec.splits["train"].samples, eval_transform(16), 16)
    loader = make_loader(dataset, batch_size=3, train=True, num_workers=0, pin_memory=False, seed=1)
    assert len(loader) == 3

    def order(epoch: int) -> list[int]:
        loader.sampler.set_epoch(epoch)
        return list(iter(loader.sampler))

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_worker_count_depends_on_the_device(monkeypatch):
    monkeypatch.setattr("classifier.data.available_cpus", lambda: 16)
    assert default_num_workers(cuda=True) == 8
    assert default_num_workers(cuda=True, processes_per_host=4) == 3
    assert default_num_workers(cuda=False) == 0
