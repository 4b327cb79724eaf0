"""Re-train one of chapter 6's checkpoints from the command its sidecar records and compare the metrics.

    OMP_NUM_THREADS=1 DLNOTES_QUIET=1 python scripts/checkpoints/verify_ssl.py dino        # simclr, clip, dino, dino_vit
    python scripts/checkpoints/verify_ssl.py --sidecar /tmp/run.json --tolerance 0.01     # any sidecar

The committed checkpoints were trained with --steps, so the re-run does the same steps on any machine; the
accuracies (k-NN, linear probe, zero-shot, recall) must come back within --tolerance (default 0.02: another CPU's
kernels move a few test images, and training amplifies the last bit). Entropies, losses and the temperature
are printed beside the recorded ones but not judged. The re-run's checkpoint goes to a temporary folder; the
committed files are not touched. Exit status 1 if a judged metric is off. A full re-run takes as long as the
original (the sidecar's wall_time_s, on the machine that made it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from dlnotes.ssl.checkpoint import CHECKPOINT_DIR, CHECKPOINT_NAMES, compare_metrics  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("method", nargs="?", choices=CHECKPOINT_NAMES)
    which.add_argument("--sidecar", type=Path, help="the .json beside any checkpoint made by ssl_*.py")
    parser.add_argument("--tolerance", type=float, default=0.02)
    args = parser.parse_args()
    sidecar = args.sidecar or CHECKPOINT_DIR / f"ssl_{args.method}.json"
    recorded = json.loads(sidecar.read_text())
    if "command" not in recorded:
        raise SystemExit(f"{sidecar} records no command to re-run")
    command = shlex.split(recorded["command"])
    if command[0] != "python" or "--steps" not in command:
        raise SystemExit(f"{sidecar}: expected 'python SCRIPT ... --steps N', got {recorded['command']!r}")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rerun.pt"
        print(f"re-running: {recorded['command']}  (recorded wall time {recorded['wall_time_s']:.0f} s)", flush=True)
        subprocess.run([sys.executable, *command[1:], "--out", str(out)], cwd=REPO, check=True)
        measured = json.loads(out.with_suffix(".json").read_text())["metrics"]

    rows = compare_metrics(recorded["metrics"], measured, args.tolerance)
    print(f"\n{'metric':32s} {'recorded':>9s} {'re-run':>9s}  verdict (tolerance {args.tolerance})")
    for name, old, new, ok in rows:
        verdict = {True: "ok", False: "OFF", None: "(shown)"}[ok]
        print(f"{name:32s} {old:9.4f} {'-' if new is None else f'{new:9.4f}':>9s}  {verdict}")
    failed = [name for name, _, _, ok in rows if ok is False]
    print("\nall judged metrics within tolerance" if not failed else f"\noff: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
