"""A web page on another origin cannot drive localcloud (headless Debian chromium, real requests).

The page is served from a second 127.0.0.1 port (a different origin from the edge) and sends what
any site could: a ``text/plain`` POST to Lambda Invoke and ``POST /bucket?delete`` (both "simple"
requests: no CORS preflight). The assertions are on the server's side effects: the function did
not run (it would write a marker file) and the objects still exist.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from localcloud_testkit import TEMPLATE, physical

from support.chromium import CHROMIUM, headless
from support.localcloud_proc import LocalCloudProcess, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]

PAGE = """<!doctype html><html><body><pre id="log">running</pre><script>
(async () => {
  const log = [];
  const edge = "EDGE";
  async function attempt(label, url, body) {
    try {
      await fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body});
      log.push(label + ":sent");
    } catch (e) {
      log.push(label + ":" + e);
    }
  }
  await attempt("invoke", edge + "/2015-03-31/functions/FUNCTION/invocations", PAYLOAD);
  await attempt("delete", edge + "/victim?delete", DELETE_XML);
  await fetch("/done?" + encodeURIComponent(log.join(",")));
  document.getElementById("log").textContent = "finished " + log.join(",");
})();
</script></body></html>
"""


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(tmp_path_factory.mktemp("browser") / "state", template=TEMPLATE) as proc:
        yield proc


class _Page(http.server.BaseHTTPRequestHandler):
    page = b""
    reports: list[str] = []

    def do_GET(self) -> None:
        if self.path.startswith("/done"):
            type(self).reports.append(self.path)
            body = b"ok"
        else:
            body = type(self).page
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if body != b"ok" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_page_on_another_origin_cannot_invoke_or_delete(lc: LocalCloudProcess, tmp_path: Path) -> None:
    function = physical(lc, "FlakyFunction")
    lam = lc.client("lambda")
    markers = tmp_path / "markers"
    markers.mkdir()
    # control: the same invocation from an SDK does run the function (so the marker would appear)
    control = {"dir": str(markers), "key": "control", "failures": 0}
    assert lam.invoke(FunctionName=function, Payload=json.dumps(control))["StatusCode"] == 200
    assert (markers / "control").exists()

    s3 = lc.client("s3")
    s3.create_bucket(Bucket="victim")
    for key in ("a.txt", "b.txt"):
        s3.put_object(Bucket="victim", Key=key, Body=b"keep me")
    delete_xml = "<Delete><Object><Key>a.txt</Key></Object><Object><Key>b.txt</Key></Object></Delete>"

    page = (
        PAGE.replace("EDGE", lc.edge_url)
        .replace("FUNCTION", function)
        .replace("PAYLOAD", json.dumps(json.dumps({"dir": str(markers), "key": "page", "failures": 0})))
        .replace("DELETE_XML", json.dumps(delete_xml))
    )
    handler = type("Handler", (_Page,), {"page": page.encode(), "reports": []})
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            headless(
                tmp_path / "profile",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"http://127.0.0.1:{port}/page.html",
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert result.returncode == 0, result.stderr[-2000:]
    # the page ran and its requests went out (the browser reports "sent": no-cors hides the answer)
    assert "finished invoke:sent,delete:sent" in result.stdout, result.stdout[-2000:]
    assert handler.reports, "the page never reported back"

    assert not (markers / "page").exists(), "the cross-origin page ran the Lambda function"
    remaining = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="victim").get("Contents", []))
    assert remaining == ["a.txt", "b.txt"], "the cross-origin page deleted objects"
