"""The dataset downloader against a local HTTP server: Range resume, size check, safe extraction."""

import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from classifier.download import DownloadError, download, extract_zip, main


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    cut_first_response_at: int | None = None  # drop the connection after this many bytes, once
    requests: list = []
    lie_about_size = False

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        cls.requests.append(self.headers.get("Range"))
        data = cls.payload
        start = 0
        header = self.headers.get("Range")
        total = len(data) + (7 if cls.lie_about_size else 0)
        if header:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{total}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body) + (7 if cls.lie_about_size else 0)))
        self.end_headers()
        if cls.cut_first_response_at is not None:
            body = body[: cls.cut_first_response_at]
            cls.cut_first_response_at = None
        self.wfile.write(body)


@pytest.fixture
def server():
    handler = type("Handler", (_RangeHandler,), {"requests": [], "payload": b""})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/dogImages.zip"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _zip_bytes(tmp_path: Path, entries: dict[str, bytes]) -> bytes:
    path = tmp_path / "build.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return path.read_bytes()


def test_download_resumes_a_partial_file_with_a_range_request(server, tmp_path):
    handler, url = server
    handler.payload = bytes(range(256)) * 400
    destination = tmp_path / "out" / "dogImages.zip"
    destination.parent.mkdir()
    (destination.parent / "dogImages.zip.part").write_bytes(handler.payload[:1000])
    download(url, destination, show_progress=False)
    assert destination.read_bytes() == handler.payload
    assert handler.requests == ["bytes=1000-"]
    assert not (destination.parent / "dogImages.zip.part").exists()


def test_download_continues_after_a_dropped_connection(server, tmp_path):
    handler, url = server
    handler.payload = b"x" * 50_000
    handler.cut_first_response_at = 12_345
    destination = tmp_path / "dogImages.zip"
    download(url, destination, show_progress=False, retries=2)
    assert destination.read_bytes() == handler.payload
    assert handler.requests == [None, "bytes=12345-"]


def test_complete_part_file_is_finished_on_416(server, tmp_path):
    handler, url = server
    handler.payload = b"abc" * 10
    (tmp_path / "dogImages.zip.part").write_bytes(handler.payload)
    download(url, tmp_path / "dogImages.zip", show_progress=False)
    assert (tmp_path / "dogImages.zip").read_bytes() == handler.payload


def test_size_mismatch_is_an_error_and_nothing_is_renamed(server, tmp_path):
    handler, url = server
    handler.payload = b"y" * 1000
    with pytest.raises(DownloadError, match="expected 999"):
        download(url, tmp_path / "dogImages.zip", expected_size=999, show_progress=False)
    assert not (tmp_path / "dogImages.zip").exists()


def test_server_announcing_more_than_it_sends_is_an_error(server, tmp_path):
    handler, url = server
    handler.payload = b"z" * 100
    handler.lie_about_size = True
    with pytest.raises(DownloadError):
        download(url, tmp_path / "dogImages.zip", show_progress=False, retries=1, timeout=5)
    assert not (tmp_path / "dogImages.zip").exists()


def test_unreachable_server_is_reported_after_the_retries(tmp_path):
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:1"):
        download("http://127.0.0.1:1/x.zip", tmp_path / "x.zip", retries=0, show_progress=False)


def test_command_line_downloads_and_extracts(server, tmp_path, capsys):
    handler, url = server
    handler.payload = _zip_bytes(
        tmp_path, {"dogImages/train/001.A/0.jpg": b"1", "dogImages/valid/001.A/0.jpg": b"2"}
    )
    out = tmp_path / "data"
    assert main(["--out", str(out), "--url", url]) == 0
    assert (out / "dogImages" / "train" / "001.A" / "0.jpg").read_bytes() == b"1"
    assert not (out / "dogImages.zip").exists()
    assert "extracted" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "C:/evil.txt"])
def test_extraction_rejects_unsafe_paths_before_writing_anything(tmp_path, name):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip_bytes(tmp_path, {"ok/file.txt": b"fine", name: b"evil"}))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DownloadError, match="unsafe path"):
        extract_zip(archive, out)
    assert list(out.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_extraction_rejects_symlinks(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("dogImages/link")
        info.external_attr = 0o120777 << 16
        bundle.writestr(info, "/etc/passwd")
    with pytest.raises(DownloadError, match="symbolic link"):
        extract_zip(archive, tmp_path / "out")


def test_not_a_zip_is_a_clear_error(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="not a valid zip"):
        extract_zip(tmp_path / "x.zip", tmp_path)
