"""Small checkpoints with a JSON sidecar: weights in fp16, and beside them the seed, config, torch version,
wall time, metrics and the sha256 of the weights file, so that a reader can check what they load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

SIDECAR_FIELDS = ("method", "seed", "config", "torch", "wall_time_s", "metrics", "file", "bytes", "sha256")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar_path(path: str | Path) -> Path:
    """model.pt -> model.json"""
    return Path(path).with_suffix(".json")


def save_checkpoint(path: str | Path, state_dict: dict[str, Tensor], *, method: str, seed: int, config: dict,
                    wall_time_s: float, metrics: dict[str, float], command: str | None = None) -> dict:
    """Save state_dict (float tensors as fp16) to path and the sidecar path.json; return the sidecar's dict.

    command: the command line that made it (without --out), which scripts/checkpoints/verify_ssl.py re-runs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    half = {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu() for k, v in state_dict.items()}
    torch.save(half, path)
    meta = {"method": method, "seed": seed, "config": config, "torch": torch.__version__,
            "wall_time_s": round(wall_time_s, 1), "metrics": metrics, "file": path.name,
            "bytes": path.stat().st_size, "sha256": file_sha256(path)}
    if command is not None:
        meta["command"] = command
    sidecar_path(path).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return meta


def load_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict]:
    """(state_dict in float32, sidecar dict); a ValueError if the file's sha256 is not the recorded one."""
    path = Path(path)
    meta = json.loads(sidecar_path(path).read_text())
    digest = file_sha256(path)
    if digest != meta["sha256"]:
        raise ValueError(f"{path} has sha256 {digest}, but its sidecar records {meta['sha256']}: "
                         f"the file changed after it was saved")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, meta


# --------------------------------------------------------------------------- the chapter's trained encoders
CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "chapters" / "06_self_supervised" / "checkpoints"


def build_encoder(spec: dict):
    """An untrained image encoder from its spec in a sidecar: {"name": "SmallCNN", "out_dim": 128} or
    {"name": "small_vit", "dim": 128, ...}."""
    from .encoders import SmallCNN, small_vit

    builders = {"SmallCNN": SmallCNN, "small_vit": small_vit}
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in builders:
        raise ValueError(f"encoder name must be one of {sorted(builders)}, got {name!r}")
    return builders[name](**spec)


CHECKPOINT_NAMES = ("simclr", "clip", "dino", "dino_vit")  # chapters/06_self_supervised/checkpoints/ssl_<name>.pt


def _resolve(name_or_path: str | Path) -> Path:
    if str(name_or_path) in CHECKPOINT_NAMES:
        return CHECKPOINT_DIR / f"ssl_{name_or_path}.pt"
    return Path(name_or_path)


def load_clip(name_or_path: str | Path = "clip"):
    """The trained CLIP model (image and text towers, projections, temperature), in eval mode."""
    from .clip import CLIP
    from .encoders import TextEncoder

    state, meta = load_checkpoint(_resolve(name_or_path))
    cfg = meta["config"]
    model = CLIP(build_encoder(cfg["encoder"]), TextEncoder(**cfg["text_encoder"]), embed_dim=cfg["embed_dim"])
    model.load_state_dict(state)
    return model.eval()


def load_encoder(name_or_path: str | Path):
    """A trained image encoder, (N, 3, 32, 32) in [0, 1] -> features (N, D), in eval mode.

    name: "simclr", "dino" (the teacher's backbone, a SmallCNN), "dino_vit" (the same recipe with the small ViT:
    its class token's attention finds the object, its features do not separate the shapes) or "clip" (the image
    tower, before its projection),
    looked up in chapters/06_self_supervised/checkpoints/ of the repository; or the path of a checkpoint.
    """
    path = _resolve(name_or_path)
    state, meta = load_checkpoint(path)
    if meta["method"] == "clip":
        return load_clip(path).image_encoder
    encoder = build_encoder(meta["config"]["encoder"])
    prefix = "encoder."
    encoder.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return encoder.eval()


def script_parser(doc: str, method: str, *, default_minutes: float, device_help: str = "cpu or cuda"):
    """The command line the three scripts/checkpoints/ssl_*.py share; each adds its own options after this."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=None,
                        help=f"training wall-clock budget (default {default_minutes:g})")
    parser.add_argument("--steps", type=int, default=None,
                        help="train exactly this many steps instead of for a wall-clock budget "
                             "(the same run on any machine)")
    parser.add_argument("--short", action="store_true", help="tiny model and data, a few seconds: the test's mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=CHECKPOINT_DIR / f"ssl_{method}.pt")
    parser.add_argument("--device", default="cpu", help=device_help)
    return parser


def check_script_args(args) -> None:
    """Refuse a non-positive --steps and the seed reserved for the evaluation images."""
    from dlnotes.ssl.evaluate import EVAL_SEED

    if args.steps is not None and args.steps < 1:
        raise SystemExit(f"--steps must be positive, got {args.steps}")
    if args.seed == EVAL_SEED:
        raise SystemExit(f"seed {EVAL_SEED} is reserved for the evaluation images")


def script_command(argv: list[str]) -> str:
    """The command line of a script run from sys.argv, for its sidecar: the script's path relative to the
    repository where it lies inside it, every argument but --out (the re-run chooses its own output)."""
    import shlex

    script, args, kept, skip = Path(argv[0]).resolve(), argv[1:], [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith("--out="):
            kept.append(a)
    root = CHECKPOINT_DIR.parents[2]
    shown = script.relative_to(root) if script.is_relative_to(root) else script
    return shlex.join(["python", str(shown), *kept])


# the metrics a re-run is judged on (accuracies in [0, 1]); the rest (entropies, losses, temperature) are shown
JUDGED_PREFIXES = ("knn", "linear_probe", "zero_shot", "recall@")


def compare_metrics(recorded: dict[str, float], measured: dict[str, float], tolerance: float = 0.02):
    """Rows (name, recorded, measured, verdict) for every recorded metric: verdict True / False for the judged
    accuracies (|measured - recorded| <= tolerance), None for the others, False for a judged one that is missing."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    rows = []
    for name, value in recorded.items():
        new = measured.get(name)
        judged = name.startswith(JUDGED_PREFIXES)
        verdict = (new is not None and abs(new - value) <= tolerance) if judged else None
        rows.append((name, value, new, verdict))
    return rows


def training_fraction(steps: int, start: float, *, max_steps: int | None, minutes: float) -> float:
    """How far a script's training run is, in [0, 1) while it goes on: steps / max_steps with --steps, otherwise
    the share of the wall-clock budget spent since ``start`` (a time.perf_counter() reading)."""
    import time

    return steps / max_steps if max_steps else (time.perf_counter() - start) / (60 * minutes)
