"""Build the HTML book with warnings as errors, then check the language switch in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import ROOT, all_notebooks

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PILOT = "chapters/01_fundamentals/01_tensors_autograd_gd.html"


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True)
    assert result.returncode == 0, "the -W build failed:\n" + (result.stdout + result.stderr)[-5000:]
    return out / "_build" / "html"


def test_build_has_every_page(html):
    assert (html / "index.html").exists()
    for nb in all_notebooks():
        assert (html / nb.relative_to(ROOT).with_suffix(".html")).exists(), nb


def test_notebook_pages_wrap_each_language_cell_and_link_to_colab(html):
    for nb_path in all_notebooks():
        rel = nb_path.relative_to(ROOT)
        page = (html / rel.with_suffix(".html")).read_text()
        nb = nbformat.read(nb_path, as_version=4)
        for lang in ("lang-zh", "lang-en"):
            cells = sum(lang in c.metadata.get("tags", []) for c in nb.cells)
            assert page.count(f'<div class="{lang}"') == cells, f"{rel}: every {lang} cell becomes one wrapper"
        assert f"colab.research.google.com/github/dlnotes/dlnotes/blob/main/{rel.as_posix()}" in page


@pytest.fixture(scope="module")
def server(html):
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _browser(language: str, profile: Path):
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("DLNOTES_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required here (make browser installs them)")
        pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--lang={language}", f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _visible(driver, lang: str) -> tuple[int, int]:
    """(shown, total) prose blocks of one language on the current page."""
    from selenium.webdriver.common.by import By

    blocks = driver.find_elements(By.CSS_SELECTOR, f".lang-{lang}")
    return sum(b.is_displayed() for b in blocks), len(blocks)


def _shows_only(driver, lang: str) -> bool:
    other = "en" if lang == "zh" else "zh"
    shown, total = _visible(driver, lang)
    hidden_other, total_other = _visible(driver, other)
    return total > 0 and shown == total and total_other > 0 and hidden_other == 0


def _wait_until_only(driver, lang: str, timeout: float = 60) -> None:
    """Wait (polling, no fixed sleep) until the page shows exactly the prose of `lang`; fail after `timeout` s.

    A busy machine may run the page's script late: waiting on the condition keeps the test honest there."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
                      ).until(lambda d: _shows_only(d, lang))
    except TimeoutException:
        shown, total = _visible(driver, lang)
        pytest.fail(f"{driver.current_url}: after {timeout} s, {shown} of {total} {lang} blocks shown "
                    f"and {_visible(driver, 'en' if lang == 'zh' else 'zh')} of the other language")


def _switch_button(driver, timeout: float = 60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(EC.element_to_be_clickable((By.ID, "dlnotes-lang-switch")))


def test_language_switch_in_headless_chromium(server, tmp_path):
    from selenium.webdriver.common.by import By

    driver = _browser("zh-CN", tmp_path / "profile-zh")
    try:
        # First visit follows the browser's language (Chinese here).
        driver.get(f"{server}/{PILOT}")
        assert driver.execute_script("return navigator.language").startswith("zh")
        _wait_until_only(driver, "zh")
        heading = driver.find_element(By.CSS_SELECTOR, "article h1").text
        assert "张量" in heading and "Tensors" in heading, "headings carry both languages"
        code_cells = driver.find_elements(By.CSS_SELECTOR, "div.cell_input")
        assert code_cells and all(c.is_displayed() for c in code_cells), "code is shown once, in both modes"

        # One click switches every prose block on the page.
        button = _switch_button(driver)
        assert button.text == "English"
        button.click()
        _wait_until_only(driver, "en")
        assert _switch_button(driver).text == "中文"
        assert all(c.is_displayed() for c in driver.find_elements(By.CSS_SELECTOR, "div.cell_input"))

        # The choice persists across pages and reloads.
        driver.get(f"{server}/chapters/00_preface/index.html")
        _wait_until_only(driver, "en")
        driver.refresh()
        _wait_until_only(driver, "en")

        # And switches back.
        _switch_button(driver).click()
        _wait_until_only(driver, "zh")
        driver.save_screenshot(str(tmp_path / "preface-zh.png"))
    finally:
        driver.quit()


def test_first_visit_with_an_english_browser_shows_english(server, tmp_path):
    driver = _browser("en-US", tmp_path / "profile-en")
    try:
        driver.get(f"{server}/{PILOT}")
        _wait_until_only(driver, "en")
    finally:
        driver.quit()
