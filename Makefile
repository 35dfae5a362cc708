# Redress — `make run` serves the app on http://127.0.0.1:5000; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint assets db demo worker clean ocr spam bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

assets: $(STAMP)
	@$(BIN)/python -m app.public.assets

# Scanned letters are read with Debian's Tesseract, and JBIG2 images (copiers' compact PDFs)
# decoded with Debian's jbig2dec. Installed when we may (root with apt); without them the app
# still runs and those scans wait in the review queue, saying why.
ocr:
	@command -v tesseract >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Tesseract OCR (tesseract-ocr) for scanned letters"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null) \
	      || echo "Could not install tesseract-ocr: scanned images will wait in the review queue."; \
	  else \
	    echo "Tesseract is not installed (sudo apt-get install tesseract-ocr): scanned images will wait in the review queue."; \
	  fi; }
	@command -v jbig2dec >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing jbig2dec for JBIG2-compressed scans"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jbig2dec >/dev/null) \
	      || echo "Could not install jbig2dec: JBIG2 scans will wait in the review queue."; \
	  else \
	    echo "jbig2dec is not installed (sudo apt-get install jbig2dec): JBIG2 scans will wait in the review queue."; \
	  fi; }

# Spam is scored by Debian's SpamAssassin (spamd) where SPAMD_URL points at one; the tests start
# a private spamd. Installed when we may (root with apt); without it mail is processed unscored.
spam:
	@{ command -v spamd >/dev/null 2>&1 || [ -x /usr/sbin/spamd ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing SpamAssassin (spamassassin) for spam scoring"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin spamd >/dev/null) \
	      || echo "Could not install spamassassin: the spam tests need spamd."; \
	  else \
	    echo "SpamAssassin is not installed (sudo apt-get install spamassassin spamd): the spam tests need spamd."; \
	  fi; }

db: $(STAMP)
	$(BIN)/redress db upgrade

run: $(STAMP) assets ocr db
	@$(BIN)/redress demo --if-empty
	@echo ""
	@echo "  Redress is starting on http://$(HOST):$(PORT)/"
	@echo "  Public complaint form: http://$(HOST):$(PORT)/complaints/new"
	@echo "  Staff workspace: http://$(HOST):$(PORT)/staff/login (a demo login above; password redress-demo-password)"
	@echo "  Mailroom (scans in, letters out): http://$(HOST):$(PORT)/staff/mailroom/"
	@echo "  Staff API: http://$(HOST):$(PORT)/api/v1/openapi.json (bearer token: $(BIN)/redress tokens issue EMAIL)"
	@echo "  Periodic jobs (SLA sweep, outbox reconciler) run alongside, in-process."
	@echo ""
	@$(BIN)/redress cron & CRON=$$!; trap 'kill $$CRON 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/redress run --host $(HOST) --port $(PORT)

test: $(STAMP) ocr spam
	$(BIN)/python -m pytest

# Every benchmark, then one table of figures, targets and ratios (bench/README.md). Needs wrk
# (installed when we may) and PostgreSQL; `make bench PEER=1` adds Request Tracker side by side
# (bench/rt/setup.sh installs it: root, a few minutes). BENCH_ARGS passes options through.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing wrk (the HTTP load generator)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is not installed (sudo apt-get install wrk)"; exit 2; fi; }
	$(BIN)/python -m bench all $(if $(PEER),--peer) $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

worker: $(STAMP)
	$(BIN)/redress worker

clean:
	rm -rf $(VENV) instance app/public/static/vendor node_modules
