"""SEEDS.md (every notebook re-run under SEED=1, SEED=2 and an emulated other CPU) must be current and green."""

from tools.notebooks import ROOT, all_notebooks
from tools.seeds import CONFIGS, code_hash, read_rows


def test_seed_report_lists_every_notebook_with_its_current_code():
    rows = read_rows()
    expected = {str(p.relative_to(ROOT)) for p in all_notebooks()}
    assert set(rows) == expected, "SEEDS.md does not list exactly the book's notebooks: run `make seeds`"
    stale = [nb for nb, (digest, _) in rows.items() if digest != code_hash(ROOT / nb)]
    assert not stale, f"code changed since SEEDS.md was written; run `python -m tools.seeds {' '.join(stale)}`"


def test_every_claim_holds_under_other_seeds_and_another_cpu():
    failed = {nb: cells for nb, (_, cells) in read_rows().items()
              if len(cells) != len(CONFIGS) or any(cell != "ok" for cell in cells)}
    assert not failed, f"asserts fail under {[c.name for c in CONFIGS]}: {failed}"
