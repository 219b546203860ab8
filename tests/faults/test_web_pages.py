"""What a web page the developer visits can do to the servers on their machine, in a
real headless Chromium: a page on another origin tries `listen --external`, and the
inspector next to a listener bound to the network stays on loopback."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import KEY
from tests.listening import listening
from tests.receiver import Receiver

ATTACK = """<!doctype html><html><body><script>
window.results = [];
async function hit(options) {
  try { const r = await fetch(TARGET, options); window.results.push(r.type + ":" + r.status); }
  catch (e) { window.results.push("error:" + e.message); }
}
(async () => {
  await hit({method: "POST", mode: "no-cors", body: '{"action":"page"}',
             headers: {"Content-Type": "text/plain"}});
  await hit({method: "POST", mode: "no-cors", body: '{"action":"form"}',
             headers: {"Content-Type": "application/x-www-form-urlencoded"}});
  window.done = true;
})();
</script></body></html>"""


class _Page(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker_site() -> Iterator[tuple[http.server.HTTPServer, type[_Page]]]:
    handler = type("Page", (_Page,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()


def test_a_web_page_cannot_make_listen_external_sign_and_forward(cli, page, attacker_site) -> None:
    """Before: a cross-site no-cors text/plain POST from any page got 200, and the app
    received a validly signed forward the page composed."""
    assert cli("config", "set-key", KEY).exit_code == 0
    server, handler = attacker_site
    with Receiver() as app:
        args = ["--external", "github", "-i", "github", "-c", "c1", "--forward-to", app.url]
        with listening(*args) as lst:
            handler.html = ATTACK.replace("TARGET", json.dumps(lst.url)).encode()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_function("window.done === true", timeout=10_000)
            # The control: an external API's server posts JSON, with no browser headers.
            control = httpx.post(lst.url, json={"action": "server"}, timeout=10)
            assert control.status_code == 200
            lst.proc.send_signal(2)
            _, _, err = lst.finish()
        forwarded = [json.loads(r.body)["payload"]["action"] for r in app.requests]
    assert forwarded == ["server"]  # nothing the page composed reached the app
    assert "browser: refused a request a web page could have sent" in err


def test_allow_browser_lets_a_page_through(cli) -> None:
    assert cli("config", "set-key", KEY).exit_code == 0
    with Receiver() as app:
        args = ["--external", "github", "-i", "github", "--forward-to", app.url]
        with listening(*args, "--allow-browser") as lst:
            reply = httpx.post(
                lst.url,
                content=b'{"action":"page"}',
                headers={"Origin": "http://elsewhere.example", "Content-Type": "text/plain"},
                timeout=10,
            )
            assert reply.status_code == 200
            lst.proc.send_signal(2)
            lst.finish()
        assert [json.loads(r.body)["action"] for r in app.requests] == ["page"]


def test_the_inspector_stays_on_loopback_when_the_listener_does_not(cli) -> None:
    """Before: `listen --host 0.0.0.0 --ui` served the inspector (and its token) to every
    peer on the network. The listener answers on another loopback address (so on the
    network); the inspector only on the one it names."""
    with listening("--host", "0.0.0.0", "--ui", "--ui-port", "0") as lst:
        err = lst.err_path.read_text()
        ui_url = err.split("Inspector on ")[1].split()[0]
        assert ui_url.startswith("http://127.0.0.1:")
        listen_port = lst.url.split(":")[-1].split("/")[0]
        ui_port = ui_url.split(":")[-1].split("/")[0]
        # 127.0.0.2 is loopback too, but not the inspector's address: like a peer's.
        answered = httpx.post(f"http://127.0.0.2:{listen_port}/", content=b"{}", timeout=5)
        assert answered.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.2:{ui_port}/", timeout=5)
        assert httpx.get(ui_url, timeout=5).status_code == 200
        lst.proc.send_signal(2)
        lst.finish()
    assert "listening on 0.0.0.0, not loopback" in err
