"""The glossary page and the chapters' terms agree (source files only, no build). Rules: tools/glossary.py.

When one of these fails, `python -m tools.glossary` lists everything left to do at once."""

from __future__ import annotations

import nbformat
import pytest

from tools import glossary as g

HINT = "\nrun `python -m tools.glossary` for the full list and what to write"


@pytest.fixture(scope="module")
def gloss() -> g.Glossary:
    return g.load_glossary()


@pytest.fixture(scope="module")
def problems(gloss) -> dict[str, list[str]]:
    return g.check(gloss)


def test_glossary_page_is_well_formed(gloss):
    assert not gloss.problems, "\n".join(gloss.problems)
    names = {e.en for e in gloss.entries}
    # the terms the first chapters are built on are there, each with its fixed Chinese name
    for en, zh in [("gradient descent", "梯度下降"), ("receptive field", "感受野"), ("shortcut", "捷径"),
                   ("batch normalization", "批归一化"), ("backpropagation through time", "随时间反向传播")]:
        assert en in names and gloss.by_en()[en].zh_term == zh, (en, zh)


def test_glossary_is_in_the_book_right_after_the_notation():
    toc = (g.ROOT / "_toc.yml").read_text()
    assert "chapters/00_preface/02_notation\n  - file: chapters/00_preface/03_glossary\n" in toc


@pytest.mark.parametrize("kind", ["not in the glossary", "unknown term reference", "bold term not linked",
                                  "twins disagree", "rejected variant", "another Chinese word"])
def test_chapters_agree_with_the_glossary(problems, kind):
    assert not problems[kind], f"{kind}:\n  " + "\n  ".join(problems[kind]) + HINT


def test_every_chapter_links_the_glossary(gloss):
    """Each written chapter (a folder with notebooks) defines some of its terms by linking them."""
    for folder in sorted(p for p in g.CHAPTERS.iterdir() if p.is_dir()):
        notebooks = sorted(folder.glob("*.ipynb"))
        if not notebooks:
            continue
        linked = [r for nb in notebooks for zh, en in g.twins(nb) for r in g.references(zh.text + en.text)]
        assert linked, f"{folder.name} links no term to the glossary"


# ------------------------------------------------------------------ the rules themselves, on small inputs


def test_bold_counts_as_a_definition_only_before_an_english_parenthesis():
    text = ("叫**感受野**（receptive field）。**证实**（上面令 $\\gamma = \\sigma$）。**CNN 的做法**（{cite:p}`x`）。"
            "**核对笔记。** 又见**池化**。")
    assert g.bold_definitions(text) == ["感受野"]


def test_references_read_plain_and_explicit_roles():
    text = "{term}`梯度（gradient）` 和 {term}`感受野 <感受野（receptive field）>`，{term}`SGD <stochastic gradient descent>`"
    assert g.references(text) == [("梯度（gradient）", "梯度（gradient）"), ("感受野", "感受野（receptive field）"),
                                  ("SGD", "stochastic gradient descent")]


GLOSSARY_PAGE = """# 术语表 · Glossary

## 1 基础 · Fundamentals

:::{{container}} lang-zh
```{{glossary}}
{zh}
```
:::

:::{{container}} lang-en
```{{glossary}}
{en}
```
:::
"""


def _page(tmp_path, zh: str, en: str):
    path = tmp_path / "glossary.md"
    path.write_text(GLOSSARY_PAGE.format(zh=zh, en=en))
    return g.load_glossary(path)


def test_the_glossary_parser_pairs_entries_and_reads_rejected_variants(tmp_path):
    gloss = _page(tmp_path, "梯度（gradient）\n  一句话。\n捷径（shortcut）\n  一条路径。不用“快捷连接”。",
                  "gradient\n  One sentence.\nshortcut\n  A path.")
    assert not gloss.problems
    assert [(e.zh_term, e.en, e.rejected) for e in gloss.entries] == [("梯度", "gradient", ()),
                                                                      ("捷径", "shortcut", ("快捷连接",))]


@pytest.mark.parametrize("zh, en, complaint", [
    ("捷径（shortcut）\n  路径。\n梯度（gradient）\n  一句话。", "shortcut\n  A path.\ngradient\n  One.", "sorted"),
    ("梯度（gradient）\n  一句话。", "gradient\n  One.\nshortcut\n  A path.", "same order"),
    ("梯度\n  一句话。", "gradient\n  One.", "中文（English）"),
    ("梯度（gradient）", "gradient\n  One.", "no definition"),
])
def test_the_glossary_parser_reports_a_broken_page(tmp_path, zh, en, complaint):
    assert any(complaint in p for p in _page(tmp_path, zh, en).problems)


def _notebook(tmp_path, zh: str, en: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 标题 · Title"),
                nbformat.v4.new_markdown_cell(zh, metadata={"tags": ["lang-zh"]}),
                nbformat.v4.new_markdown_cell(en, metadata={"tags": ["lang-en"]})]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return [path]


@pytest.mark.parametrize("zh, en, kind", [
    ("叫{term}`感受野 <感受野（receptive field）>`。", "the {term}`receptive field`.", None),
    ("叫**感受野**（receptive field）。", "the **receptive field**.", "bold term not linked"),
    ("叫**感知野**（perceptive field）。", "the perceptive field.", "not in the glossary"),
    ("叫{term}`感受野 <感受野（receptive field）>`。", "the receptive field.", "twins disagree"),
    ("叫{term}`感受野 <感受野（receptive field）>`。", "the {term}`receptive fields`.",
     ["unknown term reference", "twins disagree"]),
    ("叫{term}`捷径 <捷径（shortcut）>`，不叫快捷连接。", "the {term}`shortcut`.", "rejected variant"),
    ("比较三种近路（shortcut）。", "compare three shortcuts.", "another Chinese word"),
    ("叫{term}`感受野 <感受野（receptive field）>`（receptive field）。", "the {term}`receptive field`.", None),
])
def test_the_chapter_checks_catch_each_kind_of_mistake(tmp_path, zh, en, kind):
    gloss = _page(tmp_path, "感受野（receptive field）\n  一块区域。\n捷径（shortcut）\n  路径。不用“快捷连接”。",
                  "receptive field\n  A region.\nshortcut\n  A path.")
    found = {k: v for k, v in g.check(gloss, _notebook(tmp_path, zh, en)).items() if v}
    expected = kind if isinstance(kind, list) else [kind] if kind else []
    assert sorted(found) == sorted(expected), found
