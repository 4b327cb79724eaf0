# Two commands for a newcomer (see README.md):
#   make book   install what is needed and build the HTML book into _build/html/ (stored outputs, no execution)
#   make test   install what is needed and run the whole test suite (unit tests, nbval over every notebook
#               here and again on an emulated other CPU, the -W HTML build, the language switch in headless
#               Chromium, the freshness of TIMING.md and SEEDS.md)
# VENV may point elsewhere (.ci/run uses a cache keyed by the lock file).

VENV ?= .venv
PY := $(VENV)/bin/python
LOCK := requirements-lock.txt
# The nbval sanitizer and cell timeout live in pyproject.toml, so a plain `pytest --nbval chapters` works too.
PYTEST_NB := --nbval

.PHONY: install mathjax book test test-fast timing seeds bench lock browser colab-cells clean

$(VENV)/.installed-lock: $(LOCK)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r $(LOCK)
	cp $(LOCK) $@

# The package itself is installed (editable) on every call: cheap, and correct for a moved checkout.
install: $(VENV)/.installed-lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .

# MathJax for reading math offline: `npm pack` of a pinned release into ~/.cache/dlnotes/npm, checked
# against the registry's sha512 (once); every HTML build then copies it into _build/html/_static/mathjax/
# (_ext/offline_mathjax.py), so the book loads no script, style or font from a CDN. Debian's npm is
# installed when missing and root.
mathjax: install
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq npm >/dev/null; fi
	$(PY) _ext/offline_mathjax.py

book: install mathjax
	$(VENV)/bin/jupyter-book build . --keep-going
	@echo "Open _build/html/index.html"

# Debian's Chromium and ChromeDriver for the language-switch test, and Noto CJK so that figures can carry
# Chinese text (installed only when missing and root; without the fonts figures fall back to English).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; \
	  else echo "For the browser test and Chinese in figures: sudo apt-get install chromium chromium-driver fonts-noto-cjk"; fi; \
	fi

# tests/test_other_cpu.py re-runs nbval per notebook with ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
# OMP_NUM_THREADS=1 against the same stored outputs. The run also writes _build/TIMING.md (seconds per notebook); copy it over TIMING.md to update the report.
test: install mathjax browser
	mkdir -p _build
	$(PY) -m pytest tests chapters $(PYTEST_NB) --timing-report _build/TIMING.md

# Unit and book-structure tests only (no notebook execution, no HTML build).
test-fast: install
	$(PY) -m pytest tests -m "not slow"

timing: install
	$(PY) -m pytest chapters $(PYTEST_NB) --timing-report TIMING.md -q

# Every notebook under papermill with SEED=1, SEED=2 and on the emulated other CPU; rewrites SEEDS.md
# (about 3x the book's nbval time). tests/test_seeds_report.py checks that it is current and green.
seeds: install
	$(PY) -m tools.seeds

# After changing _config.yml's repository.url (a fork, a release): rewrite every notebook's first code cell
# (the Colab set-up) to install from it. Only that cell changes; tests/test_publishing.py checks they agree.
colab-cells: install
	$(PY) -m tools.notebooks colab-cells

bench: install
	$(PY) scripts/bench_fit.py

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -i '^dlnotes' > $(LOCK).new
	{ head -n 2 $(LOCK); cat $(LOCK).new; } > $(LOCK).tmp && rm $(LOCK).new && mv $(LOCK).tmp $(LOCK)

clean:
	rm -rf _build
