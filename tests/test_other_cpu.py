"""nbval again, on an emulated other machine: the stored outputs must not depend on this CPU.

Float kernels differ between instruction sets and thread counts, and training amplifies the last bit.
Each notebook is re-executed by `pytest --nbval` in a subprocess whose oneDNN and MKL are limited to
AVX2 (no AVX-512) and whose torch runs one thread, and compared with the same stored outputs as the
main run. Deterministic outputs must match exactly; numbers that come out of training live in cells
tagged `nbval-ignore-output`, whose asserts still run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools.notebooks import ROOT, all_notebooks
from tools.seeds import OTHER_CPU

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", [str(p.relative_to(ROOT)) for p in all_notebooks()])
def test_stored_outputs_hold_on_another_cpu(notebook):
    env = {**os.environ, "DLNOTES_QUIET": "1", **OTHER_CPU}
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval", notebook, "-q"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"nbval with {OTHER_CPU}:\n" + result.stdout[-6000:]
