"""Fixtures shared by the unit tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Run a test module on one intra-op thread: its tensors are tiny, and on a busy 2-core machine
    a second thread only spins. The thread count is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def html(tmp_path_factory):
    """The HTML book built once per test session (-W: warnings are errors) into a temporary folder; every
    test module that reads the built pages or drives a browser over them shares this one build."""
    import subprocess
    import sys
    from pathlib import Path

    from tools.notebooks import ROOT

    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True)
    assert result.returncode == 0, "the -W build failed:\n" + (result.stdout + result.stderr)[-5000:]
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def server(html):
    """The built book served on 127.0.0.1 (a free port) for the length of the session; yields the base URL."""
    import functools
    import http.server
    import threading

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter):
    """Name the screenshots tests/test_browser.py took in this session, so that someone looks at them."""
    from tools.notebooks import ROOT

    folder = ROOT / "_build" / "screenshots"
    shots = sorted(p.name for p in folder.glob("*.png") if p.stat().st_mtime >= _SESSION_START)
    if shots:
        terminalreporter.write_line(f"screenshots ({len(shots)}, look at them): {folder}/  {' '.join(shots)}")
