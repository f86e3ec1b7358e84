"""User mistakes end the job with exit code 1, one line on stderr and in the failure file, no traceback."""

import shutil

import pytest
from PIL import Image

BASE = {
    "arch": "resnet18",
    "pretrained": "none",
    "image-size": "32",
    "epochs": "1",
    "max-steps-per-epoch": "1",
}


def _small_dataset(root, sample_data, per_class=12):
    for split in ("train", "valid"):
        for class_dir in sorted((sample_data / split).iterdir()):
            target = root / split / class_dir.name
            target.mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:per_class]:
                shutil.copy(image, target / image.name)
    return root


def _assert_user_failure(job, result, *fragments):
    assert result.returncode == 1, (result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    reason = (job.output_dir / "failure").read_text().strip()
    assert error_lines[0] == f"error: {reason}"
    for fragment in fragments:
        assert fragment in reason, reason
    assert not (job.model_dir / "model.pt").exists()


@pytest.fixture
def small_job(job, sample_data):
    job.data = _small_dataset(job.root / "data", sample_data)
    return job


def test_mismatched_splits(small_job):
    Image.new("RGB", (8, 8)).save(small_job.data / "valid" / "001.Polka_dots" / "extra.jpg")
    shutil.rmtree(small_job.data / "valid" / "002.Stripes")
    result = small_job.run(BASE)
    _assert_user_failure(small_job, result, "valid split", "missing [002.Stripes]")


def test_too_many_unreadable_images(small_job):
    for i in range(2):
        (small_job.data / "train" / "004.Rings" / f"corrupt{i}.jpg").write_bytes(b"\xff\xd8 broken")
    result = small_job.run(BASE)
    _assert_user_failure(small_job, result, "2 of 50 train images", "corrupt0.jpg", "unreadable")


def test_unknown_arch_and_bad_values_are_named(small_job):
    result = small_job.run({**BASE, "arch": "resnet19"})
    _assert_user_failure(small_job, result, "invalid hyperparameter 'arch'", "resnet19", "resnet18")
    result = small_job.run({**BASE, "lr": "fast"})
    _assert_user_failure(small_job, result, "invalid hyperparameter 'lr'", "fast")


def test_missing_pretrained_weights_never_fall_back_to_random_init(small_job):
    result = small_job.run({**BASE, "pretrained": "imagenet"})
    _assert_user_failure(
        small_job, result, "ImageNet weights for resnet18 not found", "TORCH_HOME", "download failed"
    )
    assert "epoch=" not in result.stdout
