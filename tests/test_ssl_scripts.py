"""scripts/checkpoints/ssl_*.py in --short mode: each trains, evaluates and writes a checkpoint with a sidecar whose
fields are filled and whose sha256 is the file's. The scripts run in this process (runpy), which saves the
interpreter and torch start-up of a subprocess; their full runs are a maintainer's command (see each docstring)."""

import json
import runpy
import sys
import time
from pathlib import Path

import pytest
import torch

from dlnotes.ssl import load_checkpoint, load_clip, load_encoder
from dlnotes.ssl.checkpoint import SIDECAR_FIELDS, file_sha256

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "checkpoints"
EXPECTED_METRICS = {
    "simclr": {"knn", "knn_raw_pixels", "knn_random_init", "linear_probe"},
    "clip": {"knn", "knn_raw_pixels", "knn_random_init", "zero_shot_en", "zero_shot_zh", "zero_shot_en_ensemble",
             "zero_shot_zh_ensemble", "recall@1_image_to_text_en", "recall@1_image_to_text_zh", "temperature"},
    "dino": {"knn", "knn_raw_pixels", "knn_random_init", "teacher_entropy_of_mean", "teacher_mean_entropy",
             "attention_on_object", "mask_share_of_image"},
}


@pytest.mark.parametrize("method", ["simclr", "clip", "dino"])
def test_short_run_writes_checkpoint_and_sidecar(method, tmp_path, monkeypatch):
    out = tmp_path / f"ssl_{method}.pt"
    monkeypatch.setattr(sys, "argv", [f"ssl_{method}.py", "--short", "--seed", "1", "--out", str(out)])
    start = time.perf_counter()
    runpy.run_path(str(SCRIPTS / f"ssl_{method}.py"), run_name="__main__")
    assert time.perf_counter() - start < 15

    meta = json.loads(out.with_suffix(".json").read_text())
    assert set(SIDECAR_FIELDS) <= set(meta)
    assert meta["method"] == method and meta["seed"] == 1 and meta["torch"] == torch.__version__
    assert meta["sha256"] == file_sha256(out) and meta["bytes"] == out.stat().st_size < 5e6
    assert meta["config"]["steps"] >= 1 and 0 < meta["wall_time_s"] < 15
    assert EXPECTED_METRICS[method] <= set(meta["metrics"])
    for name in ("knn", "knn_raw_pixels", "knn_random_init"):
        assert 0 <= meta["metrics"][name] <= 1

    state, loaded = load_checkpoint(out)  # verifies the hash
    assert all(v.dtype != torch.float16 for v in state.values())
    encoder = load_encoder(out)
    assert encoder(torch.rand(2, 3, 32, 32)).shape[0] == 2
    if method == "clip":
        assert load_clip(out).encode_text(["a red circle", "一个红色圆形"]).shape[0] == 2


def test_scripts_refuse_the_evaluation_seed(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["ssl_simclr.py", "--short", "--seed", "12345", "--out", str(tmp_path / "x.pt")])
    with pytest.raises(SystemExit, match="reserved"):
        runpy.run_path(str(SCRIPTS / "ssl_simclr.py"), run_name="__main__")


@pytest.mark.parametrize("method", ["simclr", "dino"])
def test_steps_mode_runs_exactly_that_many_steps_and_repeats(method, tmp_path, monkeypatch):
    """With --steps the run no longer depends on the machine's speed: two runs give the same weights."""
    states = []
    for i in range(2):
        out = tmp_path / f"run{i}.pt"
        monkeypatch.setattr(sys, "argv", [f"ssl_{method}.py", "--short", "--steps", "3", "--out", str(out)])
        runpy.run_path(str(SCRIPTS / f"ssl_{method}.py"), run_name="__main__")
        meta = json.loads(out.with_suffix(".json").read_text())
        assert meta["config"]["steps"] == meta["config"]["max_steps"] == 3
        states.append(load_checkpoint(out)[0])
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], rtol=0, atol=0)


COMMITTED = Path(__file__).resolve().parents[1] / "chapters" / "06_self_supervised" / "checkpoints"


@pytest.mark.parametrize("method", [p.stem.removeprefix("ssl_") for p in sorted(COMMITTED.glob("ssl_*.pt"))])
def test_committed_checkpoint_reproduces_its_recorded_knn(method):
    """The shipped checkpoint loads (hash checked) and its k-NN accuracy on the evaluation images is the one its
    sidecar records, within 0.01 (fp16 storage and another CPU's kernels may move a few test images)."""
    from dlnotes.ssl import eval_split, knn_eval

    meta = json.loads((COMMITTED / f"ssl_{method}.json").read_text())
    encoder = load_encoder(COMMITTED / f"ssl_{method}.pt")
    cfg = meta["config"]
    knn = knn_eval(encoder, eval_split(cfg["n_reference"], cfg["n_test"]), k=cfg["k"])
    assert abs(knn - meta["metrics"]["knn"]) <= 0.01
    if "attention_on_object" in meta["metrics"]:  # the ViT: what it learned is where the object is
        from dlnotes.data import make_shapes
        from dlnotes.ssl.evaluate import EVAL_SEED, attention_on_object

        test = make_shapes(cfg["n_reference"] + cfg["n_test"], seed=EVAL_SEED)
        on_object, chance = attention_on_object(encoder, test.images[cfg["n_reference"]:],
                                                test.masks[cfg["n_reference"]:])
        assert abs(on_object - meta["metrics"]["attention_on_object"]) <= 0.02
        assert on_object > 3 * chance  # far above chance (the mask's share of the image)
    else:
        assert knn > meta["metrics"]["knn_raw_pixels"] + 0.3  # far above the raw-pixel baseline it was recorded with


# --------------------------------------------------------------------------- re-running a checkpoint's command
def test_script_command_is_repo_relative_and_drops_out():
    from dlnotes.ssl.checkpoint import script_command

    argv = [str(SCRIPTS / "ssl_dino.py"), "--steps", "10", "--out", "/tmp/x.pt", "--backbone", "cnn", "--out=/y.pt"]
    assert script_command(argv) == "python scripts/checkpoints/ssl_dino.py --steps 10 --backbone cnn"


def test_compare_metrics_judges_accuracies_only():
    from dlnotes.ssl.checkpoint import compare_metrics

    recorded = {"knn": 0.80, "zero_shot_en": 0.95, "recall@1_image_to_text_en": 0.9, "final_loss": 2.5,
                "linear_probe": 1.0}
    measured = {"knn": 0.815, "zero_shot_en": 0.90, "final_loss": 9.0, "linear_probe": 1.0}
    verdicts = {name: ok for name, _, _, ok in compare_metrics(recorded, measured, 0.02)}
    assert verdicts == {"knn": True, "zero_shot_en": False, "recall@1_image_to_text_en": False, "final_loss": None,
                        "linear_probe": True}
    with pytest.raises(ValueError, match="tolerance"):
        compare_metrics(recorded, measured, -1)


@pytest.mark.parametrize("method", [p.stem.removeprefix("ssl_") for p in sorted(COMMITTED.glob("ssl_*.json"))])
def test_committed_sidecars_record_a_command_that_fixes_the_steps(method):
    meta = json.loads((COMMITTED / f"ssl_{method}.json").read_text())
    words = meta["command"].split()
    script = method.removesuffix("_vit")  # ssl_dino_vit is ssl_dino.py with the ViT (its default backbone)
    assert words[:2] == ["python", f"scripts/checkpoints/ssl_{script}.py"] and "--out" not in words
    assert int(words[words.index("--steps") + 1]) == meta["config"]["steps"]


def test_verify_reruns_the_recorded_command_and_catches_a_changed_metric(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run.pt"
    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / "ssl_simclr.py"), "--short", "--steps", "3", "--seed", "1",
                                      "--out", str(out)])
    runpy.run_path(str(SCRIPTS / "ssl_simclr.py"), run_name="__main__")
    sidecar = out.with_suffix(".json")
    assert json.loads(sidecar.read_text())["command"].endswith("ssl_simclr.py --short --steps 3 --seed 1")

    def verify():
        monkeypatch.setattr(sys, "argv", ["verify_ssl.py", "--sidecar", str(sidecar), "--tolerance", "0.01"])
        with pytest.raises(SystemExit) as exit_:
            runpy.run_path(str(SCRIPTS / "verify_ssl.py"), run_name="__main__")
        return exit_.value.code

    assert verify() == 0  # the same steps on the same machine: the same numbers
    meta = json.loads(sidecar.read_text())
    meta["metrics"]["knn"] += 0.5  # a recorded number the re-run cannot reproduce
    sidecar.write_text(json.dumps(meta))
    assert verify() == 1
    assert "off: knn" in capsys.readouterr().out
