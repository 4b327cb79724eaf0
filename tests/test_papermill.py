"""Every notebook takes parameters through papermill; run the pilot with other values."""

from __future__ import annotations

import nbformat
import pytest

from tools.notebooks import ROOT

pytestmark = pytest.mark.slow


def test_pilot_runs_with_overridden_parameters(tmp_path):
    import papermill

    source = ROOT / "chapters/01_fundamentals/01_tensors_autograd_gd.ipynb"
    target = tmp_path / "out.ipynb"
    params = {"EPOCHS": 12, "BATCH_SIZE": 64, "N_SAMPLES": 600, "SEED": 3}
    # Raises PapermillExecutionError if any cell (an assert included) fails with these values.
    papermill.execute_notebook(str(source), str(target), parameters=params, cwd=str(source.parent),
                               kernel_name="python3", progress_bar=False)
    nb = nbformat.read(target, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    for name, value in params.items():
        assert f"{name} = {value}" in injected[0].source
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "updates=    12" in outputs     # full batch: one update per epoch
    assert "updates=  7200" in outputs     # stochastic: 12 epochs x 600 samples
