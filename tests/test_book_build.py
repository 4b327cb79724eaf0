"""The HTML book built with warnings as errors (the shared `html` fixture in conftest.py), checked as files:
every page is there, prose is wrapped per language, nothing is loaded from another host, no inline script is
written twice, MathJax is the pinned copy served from the book, and the search index knows Chinese words.
tests/test_browser.py opens the same build in headless Chromium."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
import yaml

from tools.notebooks import ROOT, all_notebooks, colab_link

sys.path.insert(0, str(ROOT / "_ext"))
import offline_mathjax  # noqa: E402  (the book's Sphinx extensions: pinned MathJax, Chinese search terms)
import zh_search  # noqa: E402

slow = pytest.mark.slow
# A tag that makes the browser fetch something: a script, stylesheet, font, image, frame or media file.
FETCHING_TAG = re.compile(r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc=\"([^\"]*)\""
                          r"|<link\b[^>]*\bhref=\"([^\"]*)\"", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")\s]+)")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
DECLARATION = re.compile(r"\b(?:const|let|class)\s+([A-Za-z_$][\w$]*)")


def built_pages(html: Path) -> list[Path]:
    return sorted(html.rglob("*.html"))


def is_external(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE))


def test_extension_list_keeps_what_the_config_enables_and_leaves_out_thebe():
    """_config.yml replaces Jupyter Book's extension list to drop sphinx_thebe; what the same file enables
    by other keys (local_extensions, bibtex_bibfiles) must then be in that list, or it is silently lost."""
    from jupyter_book.config import yaml_to_sphinx

    user = yaml.safe_load((ROOT / "_config.yml").read_text())
    enabled, overrides, _ = yaml_to_sphinx(user)
    final = overrides.get("extensions", enabled["extensions"])
    assert "sphinx_thebe" not in final, "sphinx_thebe writes `const THEBE_JS_URL` into every page twice"
    lost = [e for e in enabled["extensions"] if e not in final and e != "sphinx_thebe"]
    assert not lost, f"_config.yml enables {lost} but sphinx.config.extensions does not list them"


def test_mathjax_copy_takes_only_a_tarball_with_the_pinned_checksum(tmp_path, monkeypatch):
    import io
    import tarfile

    tarball = tmp_path / "mathjax.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, text in [("package/es5/tex-mml-chtml.js", "MathJax"), ("package/es5/tex-svg.js", "not needed"),
                           ("package/es5/output/chtml/fonts/woff-v2/MathJax_Zero.woff", "font")]:
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    monkeypatch.setattr(offline_mathjax, "TARBALL", tarball)
    monkeypatch.setattr(offline_mathjax, "INTEGRITY", offline_mathjax.integrity(tarball))
    target = offline_mathjax.unpack(tmp_path / "_static" / "mathjax")
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        ".mathjax-integrity", "output/chtml/fonts/woff-v2/MathJax_Zero.woff", "tex-mml-chtml.js"]

    tarball.write_bytes(tarball.read_bytes() + b"tampered")
    with pytest.raises(offline_mathjax.MathJaxError, match="checksum"):
        offline_mathjax.unpack(tmp_path / "elsewhere")
    assert not tarball.exists(), "a tarball that fails the check is removed, so the next run fetches it again"


def test_search_terms_come_from_headings_bold_text_and_glossary_terms():
    from docutils import nodes

    page = nodes.section("", nodes.title(text="感受野 · Receptive fields"),
                         nodes.paragraph("", "", nodes.Text("普通句子里的词不算，"), nodes.strong(text="空洞卷积")),
                         nodes.definition_list("", nodes.definition_list_item("", nodes.term(text="批归一化 · BN"))))
    assert zh_search.book_terms(page) == {"感受野", "空洞卷积", "批归一化"}


@slow
def test_build_has_every_page(html):
    assert (html / "index.html").exists()
    for nb in all_notebooks():
        assert (html / nb.relative_to(ROOT).with_suffix(".html")).exists(), nb


@slow
def test_notebook_pages_wrap_each_language_cell_and_link_to_colab(html):
    for nb_path in all_notebooks():
        rel = nb_path.relative_to(ROOT)
        page = (html / rel.with_suffix(".html")).read_text()
        nb = nbformat.read(nb_path, as_version=4)
        for lang in ("lang-zh", "lang-en"):
            cells = sum(lang in c.metadata.get("tags", []) for c in nb.cells)
            assert page.count(f'<div class="{lang}"') == cells, f"{rel}: every {lang} cell becomes one wrapper"
        assert colab_link(rel) in page, f"{rel}: no launch button to {colab_link(rel)} (_config.yml's repository)"


@slow
def test_pages_fetch_nothing_from_another_host(html):
    """Scripts, styles, fonts and images all come from the book (links to other sites are fine)."""
    found = []
    for page in built_pages(html):
        for match in FETCHING_TAG.finditer(page.read_text()):
            url = match.group(1) or match.group(2)
            if is_external(url):
                found.append(f"{page.relative_to(html)}: {match.group(0)[:120]}")
    for sheet in sorted((html / "_static").rglob("*.css")):
        for url in CSS_URL.findall(sheet.read_text(errors="replace")):
            if is_external(url):
                found.append(f"{sheet.relative_to(html)}: url({url})")
    assert not found, "loaded from another host:\n" + "\n".join(found[:20])


@slow
def test_no_page_declares_a_name_twice_in_its_inline_scripts(html):
    """Two inline `const X` of one name on a page is a SyntaxError that stops the second script (thebe's
    THEBE_JS_URL did this on every page)."""
    for page in built_pages(html):
        scripts = INLINE_SCRIPT.findall(page.read_text())
        twice = [name for name, n in Counter(d for s in scripts for d in DECLARATION.findall(s)).items() if n > 1]
        assert not twice, f"{page.relative_to(html)}: inline scripts declare {twice} more than once"


@slow
def test_mathjax_is_the_pinned_copy_served_from_the_book(html):
    folder = html / "_static" / "mathjax"
    assert (folder / ".mathjax-integrity").read_text().strip() == offline_mathjax.INTEGRITY, \
        "not unpacked from the checked npm tarball"
    assert f'VERSION="{offline_mathjax.VERSION}"' in (folder / "tex-mml-chtml.js").read_text()
    assert len(list((folder / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))) >= 20
    assert (folder / "input" / "tex" / "extensions" / "boldsymbol.js").exists(), "autoloaded TeX extensions"
    pages_with_math = [p for p in built_pages(html) if 'class="math' in p.read_text()]
    assert pages_with_math, "no page has math?"
    for page in pages_with_math:
        text = page.read_text()
        assert re.search(r'<script defer="defer" src="(\.\./)*_static/mathjax/tex-mml-chtml\.js', text), page


@slow
def test_search_index_holds_chinese_words_and_english_stems(html):
    raw = (html / "searchindex.js").read_text()
    index = json.loads(raw[raw.index("(") + 1:raw.rindex(")")])
    docs = index["docnames"]

    def pages(term: str) -> set[str]:
        found = set()
        for table in (index["terms"], index["titleterms"]):
            hits = table.get(term, [])
            found |= {docs[i] for i in (hits if isinstance(hits, list) else [hits])}
        return found

    target = "chapters/02_cnn/02_receptive_fields"
    assert target in pages("感受野"), "jieba must keep the book's term 感受野 whole (_ext/zh_search.py)"
    assert target in pages("recept") and target in pages("field"), "English words are still stemmed"
    assert "chapters/01_fundamentals/01_tensors_autograd_gd" in pages("梯度")
