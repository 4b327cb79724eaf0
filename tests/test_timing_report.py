"""TIMING.md (seconds per notebook under nbval) must list every notebook and keep the budgets."""

import re

from tools.notebooks import BOOK_BUDGET_S, NOTEBOOK_BUDGET_S, ROOT, all_notebooks


def test_timing_report_is_current_and_within_budget():
    text = (ROOT / "TIMING.md").read_text()
    rows = dict(re.findall(r"^\| `([^`]+\.ipynb)` \| ([0-9.]+) \|", text, re.MULTILINE))
    expected = {str(p.relative_to(ROOT)) for p in all_notebooks()}
    assert set(rows) == expected, "TIMING.md is stale: run `make timing` (or copy _build/TIMING.md after `make test`)"
    over = {nb: s for nb, s in rows.items() if float(s) > NOTEBOOK_BUDGET_S}
    assert not over, f"notebooks over the {NOTEBOOK_BUDGET_S} s budget: {over}"
    assert sum(float(s) for s in rows.values()) <= BOOK_BUDGET_S
