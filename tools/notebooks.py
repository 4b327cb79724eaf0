"""Maintainer tools for the book's notebooks.

    python -m tools.notebooks run [NOTEBOOK ...]   # execute in place, storing fresh outputs
    python -m tools.notebooks new SOURCE.py OUT.ipynb  # turn a jupytext 'percent' script into a notebook

Stored outputs are what the HTML book shows and what `pytest --nbval` compares, so regenerate them
with `run` after editing a notebook. Progress bars are switched off (DLNOTES_QUIET=1) exactly as
under the tests, so that the stored outputs match a test run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"

# The first code cell of every notebook (checked by tests/test_book.py).
COLAB_CELL = '''\
# Colab set-up: installs the dlnotes package when this notebook runs on Google Colab; does nothing elsewhere.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "dlnotes @ git+https://github.com/dlnotes/dlnotes"], check=True)'''

LANG_TAGS = ("lang-zh", "lang-en")

# Time budgets on the 2-core reference machine (seconds under `pytest --nbval`).
NOTEBOOK_BUDGET_S = 90
BOOK_BUDGET_S = 20 * 60


def all_notebooks() -> list[Path]:
    """Every notebook of the book, in path order."""
    return sorted(p for p in CHAPTERS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks in place (all of them if none is named)")
    run.add_argument("notebooks", nargs="*", type=Path)
    new = sub.add_parser("new", help="create a notebook from a jupytext percent script")
    new.add_argument("source", type=Path)
    new.add_argument("target", type=Path)
    args = parser.parse_args(argv)

    if args.command == "new":
        from_percent_script(args.source, args.target)
        print(f"wrote {args.target}")
        return 0
    for path in args.notebooks or all_notebooks():
        seconds = execute(path.resolve())
        print(f"{seconds:7.1f} s  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
