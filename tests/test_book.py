"""Book-level rules, checked on the committed files (no kernel is started)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import CHAPTERS, COLAB_CELL, LANG_TAGS, ROOT, all_notebooks, toc_files

NOTEBOOKS = all_notebooks()
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE)
LABEL = re.compile(r"^\([a-z0-9][a-z0-9_-]*\)=$")
NB_IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def is_bilingual_heading(line: str) -> bool:
    text = line.lstrip("#").strip()
    return "·" in text and bool(CJK.search(text)) and bool(LATIN_WORD.search(text))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


def test_toc_and_notebooks_agree():
    in_toc = toc_files()
    assert len(in_toc) == len(set(in_toc)), "a page is listed twice in _toc.yml"
    for entry in in_toc:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), f"_toc.yml lists missing {entry}"
    missing = sorted({str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS} - set(in_toc))
    assert not missing, f"notebooks not in _toc.yml: {missing}"
    pages = {str(p.relative_to(ROOT).with_suffix("")) for p in CHAPTERS.rglob("*.md")}
    assert not sorted(pages - set(in_toc)), "Markdown pages not in _toc.yml"


def test_every_chapter_has_a_landing_page_in_order():
    folders = sorted(p for p in CHAPTERS.iterdir() if p.is_dir())
    assert [f.name[:2] for f in folders] == [f"{i:02d}" for i in range(8)]
    order = toc_files()
    landing = [f"chapters/{f.name}/index" for f in folders]
    assert [p for p in order if p in landing] == landing, "chapters must appear in order, each with its index"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_starts_with_colab_cell_then_parameters(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.strip() == COLAB_CELL, "the first code cell must be the standard Colab set-up cell"
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [1], "exactly one cell tagged 'parameters', right after the Colab cell"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_has_stored_outputs_and_no_errors(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        assert cell.execution_count is not None, f"cell {i} was never executed: run `python -m tools.notebooks run {path}`"
        for output in cell.outputs:
            assert output.output_type != "error", f"cell {i} stores an error"
            if output.output_type == "stream":
                assert "Traceback" not in output.text, f"cell {i} stores a traceback"
            png = output.get("data", {}).get("image/png", "")
            assert len(png) < 200_000, f"cell {i} stores a figure of {len(png) // 1000} kB; keep figures small"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_prose_is_paired_zh_then_en(path):
    nb = nbformat.read(path, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert markdown and HEADING.match(markdown[0].source), "a notebook starts with its title"
    expect_en = False
    for i, cell in enumerate(markdown):
        langs = [t for t in cell.metadata.get("tags", []) if t in LANG_TAGS]
        assert len(langs) <= 1, f"markdown cell {i} has both language tags"
        if expect_en:
            assert langs == ["lang-en"], f"markdown cell {i} must be the English twin of the cell before it"
            assert not CJK.search(cell.source), f"the lang-en cell {i} contains Chinese characters"
            expect_en = False
        elif langs == ["lang-zh"]:
            assert CJK.search(cell.source), f"the lang-zh cell {i} has no Chinese text"
            expect_en = True
        else:
            assert langs != ["lang-en"], f"markdown cell {i} is lang-en without a lang-zh cell before it"
            # untagged markdown cells hold headings only, each in both languages
            for line in cell.source.strip().splitlines():
                if LABEL.match(line):  # a MyST target such as (ch1-sgd)= that review pages link to
                    continue
                assert HEADING.match(line), f"untagged markdown cell {i} holds prose: tag it lang-zh/lang-en"
                assert is_bilingual_heading(line), f"heading {line!r} must read '中文 · English'"
        if langs:
            assert not HEADING.search(cell.source), f"markdown cell {i}: headings belong outside language cells"
    assert not expect_en, "the last lang-zh cell has no English twin"


MARKDOWN_PAGES = sorted(CHAPTERS.rglob("*.md"))


@pytest.mark.parametrize("path", MARKDOWN_PAGES, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN_PAGES])
def test_markdown_page_prose_is_paired(path):
    text = path.read_text()
    blocks = re.findall(r"^:::\{container\} (lang-zh|lang-en)\n(.*?)^:::$", text, re.MULTILINE | re.DOTALL)
    assert blocks, "a page needs prose in both languages"
    langs = [lang for lang, _ in blocks]
    assert langs == ["lang-zh", "lang-en"] * (len(langs) // 2) and len(langs) % 2 == 0, "blocks alternate zh, en"
    for lang, body in blocks:
        assert bool(CJK.search(body)) == (lang == "lang-zh"), f"a {lang} block is in the wrong language"
        assert not HEADING.search(body), "headings belong outside the language blocks"
    outside = re.sub(r"^:::\{container\}.*?^:::$", "", text, flags=re.MULTILINE | re.DOTALL)
    outside = re.sub(r"^```.*?^```$", "", outside, flags=re.MULTILINE | re.DOTALL)  # code is shown once
    for line in outside.splitlines():
        if HEADING.match(line):
            assert is_bilingual_heading(line), f"heading {line!r} must read '中文 · English'"
        elif re.fullmatch(r"\([\w-]+\)=", line.strip()):  # a MyST target label, not prose
            continue
        elif line.strip() and not line.startswith("|"):  # tables carry both languages in their columns
            pytest.fail(f"prose outside a language block: {line!r}")


def test_bilingual_extension_wraps_tagged_cells():
    from _ext.bilingual import wrap_language_cells

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## 标题 · Title"),
                nbformat.v4.new_markdown_cell("中文段落", metadata={"tags": ["lang-zh"]}),
                nbformat.v4.new_markdown_cell("English paragraph", metadata={"tags": ["lang-en"]}),
                nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["lang-zh"]})]
    out = json.loads(wrap_language_cells(nbformat.writes(nb)))
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in out["cells"]]
    assert sources[0] == "## 标题 · Title"
    assert sources[1].startswith('<div class="lang-zh"') and "\n\n中文段落\n\n</div>" in sources[1]
    assert sources[2].startswith('<div class="lang-en"') and "English paragraph" in sources[2]
    assert sources[3] == "x = 1", "code cells are never wrapped"

    nb.cells[1].metadata["tags"] = ["lang-zh", "lang-en"]
    with pytest.raises(ValueError, match="both language tags"):
        wrap_language_cells(nbformat.writes(nb))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_nbval_runs_every_cell_and_compares_the_deterministic_ones(path):
    """Volatile cells (training, timing) are tagged nbval-ignore-output: they still run, so their asserts
    hold everywhere. Nothing is skipped, and a notebook is never ignored as a whole."""
    nb = nbformat.read(path, as_version=4)
    assert not any(k.startswith("nbval") for k in nb.metadata), "no notebook-wide nbval switches"
    with_output = [c for c in nb.cells if c.cell_type == "code" and c.outputs]
    ignored = [c for c in with_output if "nbval-ignore-output" in c.metadata.get("tags", [])]
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        assert "nbval-skip" not in tags and "skip-execution" not in tags, f"cell {i} is skipped: its asserts would not run"
        assert "raises-exception" not in tags, f"cell {i} may fail silently"
    assert len(ignored) < len(with_output), "every output of the notebook is ignored by nbval"


def _rejected_terms() -> dict[str, str]:
    """Chinese variants the glossary rejects ('不用“X”。' in a Chinese definition) -> the term to use instead."""
    from tools.glossary import load_glossary

    return {variant: entry.zh_term for entry in load_glossary().entries for variant in entry.rejected}


def test_chapters_use_the_glossary_term_not_its_rejected_variants():
    rejected = _rejected_terms()
    assert rejected.get("快捷连接") == "捷径", "the glossary fixes one Chinese term for 'shortcut'"
    pages = [p for p in CHAPTERS.rglob("*") if p.suffix in (".md", ".ipynb") and p.name != "03_glossary.md"]
    for page in pages:
        text = page.read_text()
        for variant, term in rejected.items():
            assert variant not in text, f"{page.relative_to(ROOT)} uses {variant!r}; the glossary term is {term!r}"
