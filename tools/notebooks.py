"""Maintainer tools for the book's notebooks.

    python -m tools.notebooks run [NOTEBOOK ...]   # execute in place, storing fresh outputs
    python -m tools.notebooks new SOURCE.py OUT.ipynb  # turn a jupytext 'percent' script into a notebook
    python -m tools.notebooks colab-cells [--check]    # first code cells from _config.yml's repository.url

Stored outputs are what the HTML book shows and what `pytest --nbval` compares, so regenerate them
with `run` after editing a notebook. Progress bars are switched off (DLNOTES_QUIET=1) exactly as
under the tests, so that the stored outputs match a test run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"

CONFIG = ROOT / "_config.yml"

# The first code cell of every notebook (checked by tests/test_book.py and tests/test_publishing.py). The
# repository it installs from is _config.yml's `repository.url`, the one line a fork or a release edits;
# `python -m tools.notebooks colab-cells` (make colab-cells) then rewrites this cell in every notebook.
_COLAB_TEMPLATE = '''\
# Colab set-up: installs the dlnotes package when this notebook runs on Google Colab; does nothing elsewhere.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "dlnotes @ git+<URL>"], check=True)'''
_COLAB_PATTERN = re.compile(re.escape(_COLAB_TEMPLATE).replace("<URL>", r'[^"\s]+'))


def repository(config: Path = CONFIG) -> dict[str, str]:
    """The book's repository as _config.yml states it: url (no trailing slash), branch, path_to_book."""
    repo = yaml.safe_load(config.read_text())["repository"]
    return {"url": str(repo["url"]).rstrip("/").removesuffix(".git"),
            "branch": str(repo.get("branch") or "main"),
            "path_to_book": str(repo.get("path_to_book") or "").strip("/")}


def colab_cell(url: str) -> str:
    """The Colab set-up cell that installs the package from the git repository at `url`."""
    return _COLAB_TEMPLATE.replace("<URL>", url)


def is_colab_cell(source: str) -> bool:
    """Is this code the Colab set-up cell, whatever repository it installs from?"""
    return bool(_COLAB_PATTERN.fullmatch(source.strip()))


def colab_link(notebook: str | Path) -> str:
    """The URL that opens a notebook (path relative to the book) on Colab, as the launch button builds it."""
    repo = repository()
    owner_name = repo["url"].split("github.com/", 1)[-1]
    path = "/".join(p for p in (repo["path_to_book"], Path(notebook).as_posix()) if p)
    return f"https://colab.research.google.com/github/{owner_name}/blob/{repo['branch']}/{path}"


COLAB_CELL = colab_cell(repository()["url"])

LANG_TAGS = ("lang-zh", "lang-en")

# Time budgets on the 2-core reference machine (seconds under `pytest --nbval`).
NOTEBOOK_BUDGET_S = 90
BOOK_BUDGET_S = 20 * 60


def all_notebooks() -> list[Path]:
    """Every notebook of the book, in path order."""
    return sorted(p for p in CHAPTERS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def toc_files() -> list[str]:
    """Every file named in _toc.yml (without suffix), root included, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files

def execute(path: Path, *, timeout: int = 600) -> float:
    """Run a notebook top to bottom in its own folder, store its outputs, return the seconds it took."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ["DLNOTES_QUIET"] = "1"
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return seconds


def from_percent_script(source: Path, target: Path) -> None:
    """Convert a jupytext percent script (cells marked `# %%`, tags allowed) into an unexecuted notebook."""
    import jupytext

    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    nbformat.write(nb, target)


def write_colab_cell(path: Path, cell: str | None = None, *, check: bool = False) -> bool:
    """Make a notebook's first code cell `cell` (default: the one _config.yml asks for now); True if it differed.

    Only that cell's source changes (its tags and outputs stay). With check=True nothing is written; a
    notebook already up to date is not rewritten at all."""
    cell = colab_cell(repository()["url"]) if cell is None else cell
    nb = nbformat.read(path, as_version=4)
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first is None or not is_colab_cell(first.source):
        raise ValueError(f"{path}: the first code cell is not the Colab set-up cell")
    if first.source.strip() == cell:
        return False
    if not check:
        first.source = cell
        nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place (all of them if none is named)")
    run.add_argument("notebooks", nargs="*", type=Path)
    new = sub.add_parser("new", help="create a notebook from a jupytext percent script")
    new.add_argument("source", type=Path)
    new.add_argument("target", type=Path)
    colab = sub.add_parser("colab-cells", help="rewrite every notebook's Colab cell from _config.yml's repository.url")
    colab.add_argument("--check", action="store_true", help="only list the notebooks that differ (exit 1 if any)")
    args = parser.parse_args(argv)

    if args.command == "new":
        from_percent_script(args.source, args.target)
        print(f"wrote {args.target}")
        return 0
    if args.command == "colab-cells":
        changed = [p for p in all_notebooks() if write_colab_cell(p, check=args.check)]
        for path in changed:
            print(f"{'differs' if args.check else 'rewrote'}: {path.relative_to(ROOT)}")
        print(f"{len(changed)} of {len(all_notebooks())} notebooks {'differ' if args.check else 'rewritten'}"
              f" (repository: {repository()['url']})")
        return 1 if args.check and changed else 0
    for path in args.notebooks or all_notebooks():
        seconds = execute(path.resolve())
        print(f"{seconds:7.1f} s  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
