"""The procedural sample dataset: layout, determinism, command line."""

from PIL import Image

from classifier.data import load_dataset_spec
from classifier.sample_data import CLASS_NAMES, generate, main


def test_generate_writes_an_imagefolder_with_every_split(tmp_path):
    root = generate(
        tmp_path / "d", classes=3, train_per_class=4, valid_per_class=2, test_per_class=1, size=32
    )
    spec = load_dataset_spec({split: root / split for split in ("train", "valid", "test")})
    assert spec.classes == list(CLASS_NAMES[:3])
    assert spec.labels[:2] == ["Polka dots", "Stripes"]
    assert [len(spec.splits[s].samples) for s in ("train", "valid", "test")] == [12, 6, 3]
    with Image.open(root / "train" / CLASS_NAMES[0] / "0000.jpg") as image:
        assert image.size == (32, 32)


def test_same_seed_same_images_other_seed_other_images(tmp_path):
    args = {"classes": 2, "train_per_class": 2, "valid_per_class": 0, "test_per_class": 0, "size": 24}
    a = generate(tmp_path / "a", seed=1, **args) / "train" / CLASS_NAMES[1] / "0001.jpg"
    b = generate(tmp_path / "b", seed=1, **args) / "train" / CLASS_NAMES[1] / "0001.jpg"
    c = generate(tmp_path / "c", seed=2, **args) / "train" / CLASS_NAMES[1] / "0001.jpg"
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_command_line(tmp_path, capsys):
    code = main(
        [
            "--out",
            str(tmp_path / "x"),
            "--classes",
            "2",
            "--train-per-class",
            "1",
            "--valid-per-class",
            "1",
            "--test-per-class",
            "1",
            "--size",
            "20",
            "--format",
            "PNG",
        ]
    )
    assert code == 0
    assert "wrote 6 images of 2 classes" in capsys.readouterr().out
    assert (tmp_path / "x" / "test" / CLASS_NAMES[1] / "0000.png").is_file()


def test_command_line_rejects_too_many_classes(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "x"), "--classes", "99"]) == 2
    assert "classes must be between" in capsys.readouterr().err
