"""The built book as a reader meets it: every page of _toc.yml and the search page opened in headless Chromium
(Debian's chromium + chromedriver, started here), served from 127.0.0.1 with no network beyond it.

On every page: no console error and no failed load (Chromium's SEVERE log entries), nothing fetched from
another host, MathJax's output in place of every formula and no raw TeX left in the prose, every image
loaded, and the reader's language kept from page to page. The search page finds a notebook by a Chinese and
by an English term. Screenshots of a few pages in both languages go to _build/screenshots/ (look at them).
Waits are on conditions (WebDriverWait), never fixed sleeps; one browser serves the whole sweep.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from tools.notebooks import ROOT, toc_files

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PILOT = "chapters/01_fundamentals/01_tensors_autograd_gd.html"
SHOTS = ROOT / "_build" / "screenshots"
# Pages photographed in both languages: the landing page, a chapter-1 notebook with math, one with figures.
SHOT_PAGES = {"chapters/00_preface/index.html": "landing",
              "chapters/01_fundamentals/05_normalization.html": "math",
              "chapters/01_fundamentals/03_activations.html": "figures"}
FOCUS = {"math": "mjx-container[display=true]", "figures": "div.cell_output img"}
WAIT_S = 60  # generous: the test machine is shared and slow; each wait ends as soon as its condition holds
SEARCH_TARGET = "chapters/02_cnn/02_receptive_fields"

# Everything one page needs checked, in one round trip: images, math, raw TeX, requests to other hosts.
PAGE_REPORT_JS = r"""
const origin = window.location.origin;
const broken = Array.from(document.images)
  .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute('src'));
const formulas = document.querySelectorAll('.math').length;
const rendered = document.querySelectorAll('mjx-container').length;
const article = document.querySelector('article') || document.body;
const prose = article.cloneNode(true);
prose.querySelectorAll('div.cell_input, div.cell_output, pre, code, script, style, mjx-container, .highlight')
  .forEach(el => el.remove());
const text = prose.textContent;
const raw = [];
for (const re of [/\$\$[^$]+\$\$/g, /\$[^$\s][^$\n]*\$/g, /\\\(/g, /\\\[/g, /\\begin\{/g]) {
  for (const m of text.matchAll(re)) raw.push(text.slice(Math.max(0, m.index - 30), m.index + 40));
}
const foreign = performance.getEntriesByType('resource').map(e => e.name)
  .filter(name => !name.startsWith(origin) && !name.startsWith('data:') && !name.startsWith('blob:'));
return {broken, formulas, rendered, raw, foreign};
"""


def toc_pages() -> list[str]:
    """Every page listed in _toc.yml, as built HTML paths, in reading order."""
    return [f"{f}.html" for f in toc_files()]


def _browser(language: str, profile: Path):
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("DLNOTES_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromedriver are required here (make browser installs them)")
        pytest.skip("Debian's chromium and chromium-driver are not installed (make browser)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--lang={language}", f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(WAIT_S)  # for the wait on MathJax (execute_async_script)
    return driver


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


def _wait(driver, condition, message: str, timeout: float = WAIT_S):
    """Poll `condition(driver)` until it is truthy and return its value; fail with `message` after `timeout` s."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        pytest.fail(f"{driver.current_url}: after {timeout} s, {message}")


def _wait_until_only(driver, lang: str, timeout: float = WAIT_S) -> None:
    """Wait until the page shows exactly the prose of `lang`.

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


def _wait_for_language(driver, lang: str) -> None:
    """The page is in `lang`: the switch has set it on <html>, and where the page has prose blocks, only
    that language's are shown."""
    from selenium.webdriver.common.by import By

    _switch_button(driver)
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("data-dlnotes-lang") == lang,
          f"the page is not in {lang}")
    if driver.find_elements(By.CSS_SELECTOR, ".lang-zh, .lang-en"):
        _wait_until_only(driver, lang)


def _switch_button(driver, timeout: float = WAIT_S):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(EC.element_to_be_clickable((By.ID, "dlnotes-lang-switch")))


def _switch_to(driver, lang: str) -> None:
    """Click the switch (it names the language it switches to) and wait until the page is in `lang`."""
    button = _switch_button(driver)
    assert button.text == ("中文" if lang == "zh" else "English"), f"the switch offers {button.text!r}"
    button.click()
    _wait_for_language(driver, lang)


def _open(driver, url: str) -> dict:
    """Load `url`, wait until its scripts, math and images are done, and return the page report."""
    driver.get(url)
    _wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", "the page did not load")
    if driver.execute_script("return document.querySelector('.math') !== null"):
        done = driver.execute_async_script(
            "const callback = arguments[arguments.length - 1];"
            "const poll = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)"
            "  ? MathJax.startup.promise.then(() => callback(true), e => callback(String(e)))"
            "  : setTimeout(poll, 50);"
            "poll();")
        assert done is True, f"{url}: MathJax failed: {done}"
    driver.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    _wait(driver, lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"),
          "images still loading")
    return driver.execute_script(PAGE_REPORT_JS)


def _severe(driver) -> list[str]:
    """Console errors and failed loads logged since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _screenshot(driver, name: str, lang: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}-{lang}.png"
    assert driver.save_screenshot(str(path)), path
    return path


def _photograph_both_languages(driver, name: str, lang: str) -> None:
    """Screenshots of the current page in `lang` (its current language) and in the other, then back."""
    other = "en" if lang == "zh" else "zh"
    for shown in (lang, other):
        if shown != lang:
            _switch_to(driver, other)
        if name in FOCUS:  # scroll to what the page is about: its first shown formula or figure
            assert driver.execute_script(
                "const el = Array.from(document.querySelectorAll(arguments[0])).find(e => e.offsetParent);"
                "if (el) el.scrollIntoView({block: 'center'}); return !!el;", FOCUS[name]), \
                f"{name}: no {FOCUS[name]} shown on {driver.current_url}"
        _screenshot(driver, name, shown)
    _switch_to(driver, lang)


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """One Chromium whose browser language is Chinese, shared by the tests of this module."""
    driver = _browser("zh-CN", tmp_path_factory.mktemp("profile-reader"))
    yield driver
    driver.quit()


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

        # The choice persists across pages and reloads (test_every_page_in_chromium checks every page).
        driver.get(f"{server}/chapters/00_preface/index.html")
        _wait_until_only(driver, "en")
        driver.refresh()
        _wait_until_only(driver, "en")

        # And switches back.
        _switch_button(driver).click()
        _wait_until_only(driver, "zh")
    finally:
        driver.quit()


def test_first_visit_with_an_english_browser_shows_english(server, tmp_path):
    driver = _browser("en-US", tmp_path / "profile-en")
    try:
        driver.get(f"{server}/{PILOT}")
        _wait_until_only(driver, "en")
    finally:
        driver.quit()


def test_every_page_in_chromium(server, reader):
    """Each page of _toc.yml, then search.html: clean console, local assets, math typeset, images loaded, and
    the language chosen with one click on the first page kept on every later page until chosen again."""
    pages = toc_pages() + ["search.html"]
    assert PILOT in pages and "chapters/02_cnn/index.html" in pages
    problems: list[str] = []
    lang = "zh"  # the browser's language, until the reader clicks
    for page in pages:
        report = _open(reader, f"{server}/{page}")
        _wait_for_language(reader, lang)
        problems += [f"{page}: console: {message}" for message in _severe(reader)]
        problems += [f"{page}: fetched from another host: {url}" for url in report["foreign"]]
        problems += [f"{page}: image not loaded: {src}" for src in report["broken"]]
        problems += [f"{page}: raw TeX in the prose: …{snippet}…" for snippet in report["raw"]]
        if report["rendered"] < report["formulas"]:
            problems.append(f"{page}: {report['formulas']} formulas but {report['rendered']} typeset by MathJax")
        if page in SHOT_PAGES:
            _photograph_both_languages(reader, SHOT_PAGES[page], lang)
            problems += [f"{page} (switching): console: {message}" for message in _severe(reader)]
        # The reader picks English on the first page and Chinese again at chapter 2: every page in between
        # and after must follow (localStorage), whatever the browser's language.
        if page == pages[0] or page == "chapters/02_cnn/index.html":
            lang = "en" if lang == "zh" else "zh"
            _switch_to(reader, lang)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("query", ["感受野", "receptive field"])
def test_search_finds_a_notebook_by_a_chinese_and_an_english_term(server, reader, query):
    from selenium.webdriver.common.by import By

    _open(reader, f"{server}/search.html?q={quote(query)}")
    _wait(reader, lambda d: d.execute_script(
        "const s = document.querySelector('#search-results .search-summary');"
        "return s && /Search finished|did not match/.test(s.textContent)"), "the search did not finish")
    links = [a.get_attribute("href") for a in reader.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    assert any(SEARCH_TARGET in link for link in links), f"{query!r} did not find {SEARCH_TARGET}: {links}"
    assert not _severe(reader), "console errors on the search page"
    lang = reader.find_element(By.TAG_NAME, "html").get_attribute("data-dlnotes-lang")
    _photograph_both_languages(reader, "search-" + ("zh-term" if query == "感受野" else "en-term"), lang)
