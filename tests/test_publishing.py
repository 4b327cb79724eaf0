"""Publishing: one repository URL (the Colab cells follow _config.yml), the two GitHub workflows, and the
bibliography (every citation resolves, every entry is cited, both languages cite alike). No kernel, no build."""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from tools import notebooks as nbtools
from tools.notebooks import LANG_TAGS, ROOT, all_notebooks, colab_cell, repository, write_colab_cell
from tools.seeds import code_hash

NOTEBOOKS = all_notebooks()
NB_IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]
WORKFLOWS = ROOT / ".github" / "workflows"
BIB = ROOT / "references.bib"
CITE = re.compile(r"\{cite(?::(?P<role>[a-z]+))?\}`(?P<keys>[^`]*)`")
# sphinxcontrib-bibtex roles the book uses: (A, 2016), A (2016), and A, 2016 inside other parentheses
CITE_ROLES = {None, "p", "t", "alp", "ps", "ts"}


# ---- One repository URL ----------------------------------------------------------------------------------

def _first_code_cell(nb) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code")


def test_the_colab_cell_is_generated_from_config():
    url = repository()["url"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert url == config["repository"]["url"].rstrip("/")
    assert nbtools.COLAB_CELL == colab_cell(url)
    assert f'"dlnotes @ git+{url}"' in nbtools.COLAB_CELL
    assert nbtools.is_colab_cell(colab_cell("https://github.com/someone/a-fork"))
    assert not nbtools.is_colab_cell(colab_cell(url) + "\nprint('more')")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_every_colab_cell_installs_from_the_configured_repository(path):
    nb = nbformat.read(path, as_version=4)
    expected = colab_cell(repository()["url"])
    assert _first_code_cell(nb).source.strip() == expected, "run `make colab-cells` after changing repository.url"


def test_the_launch_link_follows_the_configured_repository():
    repo = repository()
    link = nbtools.colab_link("chapters/02_cnn/05_resnet.ipynb")
    owner_name = repo["url"].split("github.com/", 1)[1]
    assert link == (f"https://colab.research.google.com/github/{owner_name}/blob/{repo['branch']}/"
                    "chapters/02_cnn/05_resnet.ipynb")


def test_colab_cells_command_rewrites_only_that_cell_and_is_idempotent(tmp_path):
    source = ROOT / "chapters/02_cnn/05_resnet.ipynb"
    path = tmp_path / source.name
    shutil.copy(source, path)
    before = nbformat.read(path, as_version=4)
    fork = colab_cell("https://github.com/someone/a-fork")

    assert write_colab_cell(path, fork) is True
    after = nbformat.read(path, as_version=4)
    assert _first_code_cell(after).source == fork
    first = before.cells.index(_first_code_cell(before))
    for i, (old, new) in enumerate(zip(before.cells, after.cells, strict=True)):
        if i == first:
            assert new.outputs == old.outputs and new.metadata == old.metadata
        else:
            assert new == old, f"cell {i} changed"
    assert code_hash(path) == code_hash(source), "SEEDS.md's code hash must not see the Colab cell"

    written = path.read_bytes()
    assert write_colab_cell(path, fork) is False, "a second run finds nothing to change"
    assert path.read_bytes() == written

    # the hash still sees every other code cell
    other = next(c for c in after.cells if c.cell_type == "code" and c is not _first_code_cell(after))
    other.source += "\n# changed"
    nbformat.write(after, path)
    assert code_hash(path) != code_hash(source)


def test_colab_cells_command_finds_nothing_to_change_in_the_book(capsys):
    assert nbtools.main(["colab-cells", "--check"]) == 0
    assert f"0 of {len(NOTEBOOKS)} notebooks differ" in capsys.readouterr().out


def test_the_repository_url_is_written_only_in_config_and_the_generated_cells():
    url = repository()["url"]
    places = [ROOT / "README.md", ROOT / "Makefile", *(ROOT / "tools").glob("*.py"), *(ROOT / "tests").glob("*.py"),
              *(ROOT / "_ext").glob("*.py"), *(ROOT / ".ci").iterdir(), *WORKFLOWS.glob("*.yml"),
              *(ROOT / "chapters").rglob("*.md")]
    hard_coded = [str(p.relative_to(ROOT)) for p in places if p.is_file() and url in p.read_text()]
    assert not hard_coded, f"{url} is written in {hard_coded}; take it from _config.yml's repository.url"
    readme = (ROOT / "README.md").read_text()
    assert "repository.url" in readme and "make colab-cells" in readme


# ---- Deployment workflows ---------------------------------------------------------------------------------

def _workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict) and data.get("jobs"), f"{name} has no jobs"
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _uses(workflow: dict) -> dict[str, dict]:
    return {step["uses"].split("@")[0]: step for step in _steps(workflow) if "uses" in step}


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", (ROOT / "Makefile").read_text(), re.MULTILINE))


def _recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}\s*:(?!=)", line))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def book_html_dir() -> str:
    """The folder `make book` writes the HTML to: <source or --path-output>/_build/html."""
    line = next(line for line in _recipe("book") if "jupyter-book" in line and " build" in line)
    args = shlex.split(line.split("jupyter-book", 1)[1])
    assert args[0] == "build", line
    out = args[args.index("--path-output") + 1] if "--path-output" in args else args[1]
    return os.path.normpath(os.path.join(out, "_build", "html"))


def _make_targets_in(script: str) -> list[str]:
    """The targets of every `make ...` command in a shell script (not the word make as an argument)."""
    targets = []
    for segment in re.split(r"&&|\|\||[;|\n]", script):
        try:
            words = shlex.split(segment, comments=True)
        except ValueError:  # a quote that spans a `|` or `;`: plain words are enough to spot `make`
            words = segment.split()
        if words[:1] == ["make"]:
            targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return targets


def test_workflows_run_only_make_targets_that_exist():
    targets = _makefile_targets()
    assert {"book", "test"} <= targets
    commands = [step["run"] for name in ("pages.yml", "ci.yml") for step in _steps(_workflow(name)) if "run" in step]
    commands.append((ROOT / ".ci" / "run").read_text())
    called = [t for command in commands for t in _make_targets_in(command)]
    assert "book" in called and "test" in called
    missing = sorted(set(called) - targets)
    assert not missing, f"the workflows or .ci/run call make targets the Makefile lacks: {missing}"


def test_pages_workflow_builds_the_book_and_deploys_what_make_book_writes():
    wf = _workflow("pages.yml")
    assert "main" in wf["on"]["push"]["branches"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    assert wf["concurrency"]["group"]
    uses = _uses(wf)
    for action in ("actions/checkout", "actions/setup-python", "actions/configure-pages",
                   "actions/upload-pages-artifact", "actions/deploy-pages"):
        assert action in uses, f"pages.yml does not use {action}"
    assert str(uses["actions/setup-python"]["with"]["python-version"]) == "3.11"
    assert any(step.get("run", "").strip() == "make book" for step in _steps(wf))
    assert os.path.normpath(uses["actions/upload-pages-artifact"]["with"]["path"]) == book_html_dir() == "_build/html"
    deploy = next(job for job in wf["jobs"].values() if any(s.get("uses", "").startswith("actions/deploy-pages")
                                                             for s in job["steps"]))
    assert deploy.get("needs") and deploy["environment"]["name"] == "github-pages"


def test_ci_workflow_runs_the_ci_entry_point_on_pull_requests():
    wf = _workflow("ci.yml")
    assert "pull_request" in wf["on"] and "main" in wf["on"]["push"]["branches"]
    assert [s["run"].strip() for s in _steps(wf) if ".ci/run" in s.get("run", "")] == [".ci/run"]
    cache = _uses(wf)["actions/cache"]["with"]
    assert "hashFiles('requirements-lock.txt')" in cache["key"]
    assert cache["path"].rstrip("/").endswith(".cache/dlnotes"), "the cache must hold the folder .ci/run uses"
    ci_run = ROOT / ".ci" / "run"
    assert ci_run.is_file() and os.access(ci_run, os.X_OK), ".ci/run must exist and be executable"
    assert "$HOME/.cache/dlnotes" in ci_run.read_text(), ".ci/run no longer keeps its virtualenv where CI caches it"


# ---- Bibliography -----------------------------------------------------------------------------------------

def _bib_entries() -> dict:
    from pybtex.database import parse_file

    return dict(parse_file(str(BIB), bib_format="bibtex").entries)  # a duplicate key is an error here


def _keys(text: str) -> set[str]:
    found = set()
    for m in CITE.finditer(text):
        assert m["role"] in CITE_ROLES, f"unexpected citation role {{cite:{m['role']}}}"
        keys = {k.strip() for k in m["keys"].split(",")}
        assert all(keys), f"empty key in {m[0]!r}"
        found |= keys
    return found


@functools.cache
def _pages_with_prose() -> dict[str, list[tuple[str, str]]]:
    """Every notebook and chapter page -> its language blocks [(lang, text)], in order."""
    pages = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        blocks = []
        for cell in nb.cells:
            langs = [t for t in cell.metadata.get("tags", []) if t in LANG_TAGS]
            if cell.cell_type == "markdown":
                blocks.append((langs[0] if langs else "", cell.source))
        pages[str(path.relative_to(ROOT))] = blocks
    for path in sorted((ROOT / "chapters").rglob("*.md")):
        text = path.read_text()
        blocks = re.findall(r"^:::\{container\} (lang-zh|lang-en)\n(.*?)^:::$", text, re.MULTILINE | re.DOTALL)
        outside = re.sub(r"^:::\{container\}.*?^:::$", "", text, flags=re.MULTILINE | re.DOTALL)
        pages[str(path.relative_to(ROOT))] = [*blocks, ("", outside)]
    return pages


def test_every_bibliography_entry_has_author_title_and_year():
    entries = _bib_entries()
    assert len(entries) >= 20
    for key, entry in entries.items():
        assert entry.persons.get("author"), f"{key} has no author"
        assert entry.fields.get("title", "").strip(), f"{key} has no title"
        assert re.fullmatch(r"(19|20)\d\d", entry.fields.get("year", "")), f"{key} has no year"
        venue = ("journal", "booktitle", "school", "publisher", "howpublished")
        assert any(entry.fields.get(f) for f in venue), f"{key} says nowhere where it appeared"


def test_every_citation_resolves_and_every_entry_is_cited():
    entries = set(_bib_entries())
    cited = {key for blocks in _pages_with_prose().values() for _, text in blocks for key in _keys(text)}
    assert cited, "no page cites anything"
    assert not sorted(cited - entries), f"cited but not in references.bib: {sorted(cited - entries)}"
    assert not sorted(entries - cited), f"in references.bib but cited nowhere: {sorted(entries - cited)}"


@pytest.mark.parametrize("page", sorted(_pages_with_prose()))
def test_both_languages_cite_the_same_papers(page):
    blocks = [(lang, text) for lang, text in _pages_with_prose()[page] if lang in LANG_TAGS]
    for (lang_zh, zh), (lang_en, en) in zip(blocks[::2], blocks[1::2]):
        assert (lang_zh, lang_en) == LANG_TAGS
        assert _keys(zh) == _keys(en), f"the zh and en twins cite differently: {_keys(zh) ^ _keys(en)}\n{en[:200]}"
    untagged = [text for lang, text in _pages_with_prose()[page] if lang not in LANG_TAGS]
    assert not any(_keys(text) for text in untagged), "citations belong in the language blocks, in both"


def test_the_references_page_and_the_config_agree():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert [ROOT / f for f in config["bibtex_bibfiles"]] == [BIB]
    from _ext.citations import STYLE_NAME, RoundAuthorYearReferenceStyle

    extensions = config["sphinx"]["config"].get("extensions")
    if extensions is not None:  # an explicit list replaces Jupyter Book's, which would add the extension itself
        assert {"sphinxcontrib.bibtex", "citations"} <= set(extensions)
    assert config["sphinx"]["local_extensions"]["citations"] == "_ext"
    assert config["sphinx"]["config"]["bibtex_reference_style"] == STYLE_NAME
    style = RoundAuthorYearReferenceStyle()
    assert (style.bracket_parenthetical.left, style.bracket_textual.right) == ("(", ")")
    page = ROOT / "chapters" / "references.md"
    assert "```{bibliography}" in page.read_text()
    assert "chapters/references" in (ROOT / "_toc.yml").read_text()
