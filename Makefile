# Two commands for a newcomer (see README.md):
#   make book   install what is needed and build the HTML book into _build/html/ (stored outputs, no execution)
#   make test   install what is needed and run the whole test suite (unit tests, nbval over every notebook,
#               the -W HTML build, the language switch in headless Chromium)
# VENV may point elsewhere (.ci/run uses a cache keyed by the lock file).

VENV ?= .venv
PY := $(VENV)/bin/python
LOCK := requirements-lock.txt
PYTEST_NB := --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300

.PHONY: install book test test-fast timing bench lock browser clean

$(VENV)/.installed-lock: $(LOCK)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r $(LOCK)
	cp $(LOCK) $@

# The package itself is installed (editable) on every call: cheap, and correct for a moved checkout.
install: $(VENV)/.installed-lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .

book: install
	$(VENV)/bin/jupyter-book build . --keep-going
	@echo "Open _build/html/index.html"

# Debian's Chromium and ChromeDriver for the language-switch test (installed only when missing and root).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "Install Debian's chromium and chromium-driver for the browser test (sudo apt-get install chromium chromium-driver)"; fi; \
	fi

# The run also writes _build/TIMING.md (seconds per notebook); copy it over TIMING.md to update the report.
test: install browser
	mkdir -p _build
	$(PY) -m pytest tests chapters $(PYTEST_NB) --timing-report _build/TIMING.md

# Unit and book-structure tests only (no notebook execution, no HTML build).
test-fast: install
	$(PY) -m pytest tests -m "not slow"

timing: install
	$(PY) -m pytest chapters $(PYTEST_NB) --timing-report TIMING.md -q

bench: install
	$(PY) scripts/bench_fit.py

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v -i '^dlnotes' > $(LOCK).new
	{ head -n 2 $(LOCK); cat $(LOCK).new; } > $(LOCK).tmp && rm $(LOCK).new && mv $(LOCK).tmp $(LOCK)

clean:
	rm -rf _build
