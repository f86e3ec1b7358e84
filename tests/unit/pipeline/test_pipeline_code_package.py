"""Training-code shipping: reproducible sourcedir.tar.gz, content-addressed, uploaded once."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pipeline import code_package
from pipeline.code_package import CODE_DIR, build_archive, code_files, publish_training_code
from pipeline.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[3]


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_archive_holds_the_code_and_nothing_else(training_code: Path) -> None:
    archive, _ = build_archive()
    members = _members(archive)
    assert sorted(members) == [
        "classifier/__init__.py",
        "classifier/hyperparameters.json",
        "inference.py",
        "requirements.txt",
        "train.py",
    ]
    assert members["train.py"] == b"print('train')\n"


def test_archive_is_reproducible_and_its_key_follows_the_content(training_code: Path) -> None:
    first, sha_first = build_archive()
    (training_code / "train.py").touch()  # a newer mtime alone changes nothing
    second, sha_second = build_archive()
    assert first == second and sha_first == sha_second
    (training_code / "train.py").write_text("print('changed')\n")
    _, sha_changed = build_archive()
    assert sha_changed != sha_first


def test_publish_uploads_once(training_code: Path, s3: Any) -> None:
    client, stub = s3
    archive, sha = build_archive()
    key = f"code/{sha[:12]}/sourcedir.tar.gz"
    stub.add_client_error("head_object", "404", "Not Found", 404, expected_params={"Bucket": "b", "Key": key})
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "b",
            "Key": key,
            "Body": archive,
            "ContentType": "application/gzip",
            "Metadata": {"content-sha256": sha},
        },
    )
    assert publish_training_code(client, "b") == f"s3://b/{key}"
    stub.add_response("head_object", {}, {"Bucket": "b", "Key": key})  # second time: already there
    assert publish_training_code(client, "b") == f"s3://b/{key}"


def test_published_code_is_not_compressed_again(
    training_code: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every StartTuning/StartTraining call publishes; only a missing archive costs the gzip."""
    client, stub = s3
    key = f"code/{build_archive()[1][:12]}/sourcedir.tar.gz"
    stub.add_response("head_object", {}, {"Bucket": "b", "Key": key})
    monkeypatch.setattr(gzip, "compress", lambda *a, **k: pytest.fail("compressed an archive already there"))
    assert publish_training_code(client, "b") == f"s3://b/{key}"


def test_access_denied_is_not_mistaken_for_missing(training_code: Path, s3: Any) -> None:
    client, stub = s3
    stub.add_client_error("head_object", "403", "Forbidden", 403)
    with pytest.raises(Exception, match="Forbidden"):
        publish_training_code(client, "b")


def test_missing_code_is_a_configuration_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_package, "CODE_DIR", tmp_path / "nowhere")
    with pytest.raises(ConfigurationError, match="training code not found"):
        build_archive()
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "train.py").write_text("")
    with pytest.raises(ConfigurationError, match=r"lacks inference\.py"):
        code_files(tmp_path / "partial")


def test_the_function_package_carries_the_real_training_code() -> None:
    """functions/.training-code is the symlink that sam build follows and localcloud resolves."""
    link = REPO / "functions" / ".training-code"
    assert link.is_symlink() and link.resolve() == (REPO / "training").resolve()
    assert link == CODE_DIR
    names = [name for name, _ in code_files(CODE_DIR)]
    assert {"train.py", "inference.py", "requirements.txt"} <= set(names)
    assert any(name.startswith("classifier/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
