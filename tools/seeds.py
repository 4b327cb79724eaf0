"""Do the notebooks' claims hold beyond the stored run? Run each notebook under other seeds and on an
emulated other CPU, and write the committed report SEEDS.md.

    python -m tools.seeds                     # every notebook, every configuration (make seeds)
    python -m tools.seeds chapters/02_cnn/05_resnet.ipynb   # refresh the rows of some notebooks

Each configuration executes the notebook with papermill in a fresh kernel, so every `assert` in it
runs again: a claim that only held for SEED=0, or only on this CPU, fails here. The report records a
hash of each notebook's code cells, and tests/test_seeds_report.py fails when a notebook's code has
changed since its row was written, when a notebook is missing, or when any run failed.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.notebooks import ROOT, all_notebooks, is_colab_cell

REPORT = ROOT / "SEEDS.md"

# What another machine changes: no AVX-512 in oneDNN and MKL, and one thread instead of two.
OTHER_CPU = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Config:
    name: str
    seed: int
    env: dict[str, str]


CONFIGS = (
    Config("SEED=1", 1, {}),
    Config("SEED=2", 2, {}),
    Config("other CPU (AVX2, 1 thread)", 0, OTHER_CPU),
)

ROW = re.compile(r"^\| `(?P<nb>[^`]+\.ipynb)` \| `(?P<hash>[0-9a-f]+)` \|(?P<cells>.*)\|\s*$", re.MULTILINE)


def code_hash(path: Path) -> str:
    """Hash of a notebook's code cells (prose and outputs do not change what its asserts check).

    The Colab set-up cell is left out: it does nothing off Colab, and a fork that points it at another
    repository (`python -m tools.notebooks colab-cells`) must not make every row of the report stale."""
    nb = nbformat.read(path, as_version=4)
    code = "\n# ---- cell ----\n".join(c.source for c in nb.cells
                                         if c.cell_type == "code" and not is_colab_cell(c.source))
    return hashlib.sha256(code.encode()).hexdigest()[:12]


def _failure(executed: Path) -> str:
    """'cell N: Error: message' for the first failing cell, N counted in the committed notebook."""
    nb = nbformat.read(executed, as_version=4)
    index = 0
    for cell in nb.cells:
        # cells papermill adds (the injected parameters, its error banner and anchor) are not counted
        tags = cell.metadata.get("tags", [])
        injected = "injected-parameters" in tags or "papermill-error-cell-tag" in tags
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                message = (out.get("evalue") or "").strip().splitlines()
                message = message[0][:120] if message else ""
                return f"cell {index}: {out.get('ename')}: {message}".rstrip(": ")
        if not injected:
            index += 1
    return "failed before any cell ran"


def run_one(path: Path, config: Config, *, timeout: int = 900) -> tuple[str, float]:
    """Execute one notebook under one configuration; return ('ok' or the failure, seconds)."""
    env = {**os.environ, "DLNOTES_QUIET": "1", **config.env}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "papermill", str(path), str(out), "-p", "SEED", str(config.seed),
             "--cwd", str(path.parent), "--kernel", "python3", "--no-progress-bar",
             "--execution-timeout", str(timeout)],
            env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode == 0:
            return "ok", seconds
        if out.exists():
            return _failure(out), seconds
        return "papermill failed: " + (result.stderr.strip().splitlines() or ["?"])[-1][:120], seconds


def read_rows() -> dict[str, tuple[str, list[str]]]:
    """notebook -> (code hash, one cell per configuration) from the committed report."""
    if not REPORT.exists():
        return {}
    rows = {}
    for m in ROW.finditer(REPORT.read_text()):
        rows[m["nb"]] = (m["hash"], [c.strip() for c in m["cells"].split("|")])
    return rows


def write_report(rows: dict[str, tuple[str, list[str]]]) -> None:
    header = " | ".join(c.name for c in CONFIGS)
    lines = [
        "# Seed and machine report",
        "",
        "Every notebook re-executed with papermill under other seeds and on an emulated other CPU",
        f"({', '.join(f'{k}={v}' for k, v in OTHER_CPU.items())}); every `assert` in it runs again.",
        "A cell says `ok` or names the first cell (counted in the committed notebook) that failed.",
        "Regenerate with `make seeds` (all notebooks) or `python -m tools.seeds NOTEBOOK ...`;",
        "`code` is a hash of the notebook's code cells, and a test fails when it no longer matches.",
        "",
        f"| notebook | code | {header} |",
        "|---|---|" + "---|" * len(CONFIGS),
    ]
    for nb in sorted(rows):
        digest, cells = rows[nb]
        lines.append(f"| `{nb}` | `{digest}` | " + " | ".join(cells) + " |")
    failed = sum(cell != "ok" for _, cells in rows.values() for cell in cells)
    lines += ["", f"**{len(rows)} notebooks x {len(CONFIGS)} configurations: "
              f"{'all passed' if not failed else f'{failed} failed'}.**", ""]
    REPORT.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.seeds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="only these (default: all)")
    args = parser.parse_args(argv)
    targets = [p.resolve() for p in args.notebooks] or all_notebooks()
    known = {str(p.relative_to(ROOT)) for p in all_notebooks()}
    failed = 0
    for path in targets:
        rel = str(path.relative_to(ROOT))
        cells = []
        for config in CONFIGS:
            status, seconds = run_one(path, config)
            print(f"{seconds:7.1f} s  {config.name:28s} {rel}: {status}", flush=True)
            cells.append(status.replace("|", "/"))
            failed += status != "ok"
        # Written after every notebook, so an interrupted run keeps what it measured; under a lock and
        # re-read first, so two runs on different notebooks do not overwrite each other's rows.
        with open(REPORT.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            rows = {nb: row for nb, row in read_rows().items() if nb in known}
            rows[rel] = (code_hash(path), cells)
            write_report(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
