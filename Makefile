# Everything a fresh machine needs: `make run` (demo scan) and `make test` (whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    := out

.PHONY: install run serve test lint typecheck unit schemas eval bench bench-media bench-replay bench-service screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	@touch $(STAMP)

install: $(STAMP)

# The demo scan, then the whole loop (cases, review, enforcement, evidence) replayed on the
# scenario suite, kept in the same embedded database, and its audit log verified.
run: $(STAMP)
	$(BIN)/veilleur scan examples/demo --bank examples/demo-bank.csv \
	    --db $(OUT)/demo.db --json $(OUT)/findings.json --html $(OUT)/report.html
	$(BIN)/python bench/replay_scenarios.py $(OUT)/replay --follow-through
	$(BIN)/veilleur replay $(OUT)/replay/events.jsonl --oracle $(OUT)/replay/oracle.jsonl \
	    --bank $(OUT)/replay/bank.csv --milestones $(OUT)/replay/milestones.jsonl \
	    --reviewers 2 --review-seconds 300 --db $(OUT)/demo.db --out $(OUT)/RESULT.json
	$(BIN)/veilleur report transparency --year 2026 --db $(OUT)/demo.db --out $(OUT)/transparency
	$(BIN)/veilleur audit verify --db $(OUT)/demo.db

# The service on the demo database: API on /v1, console on /console, notice form on /notice.
# Create a reviewer first: `.venv/bin/veilleur accounts add NAME --role specialist --db out/demo.db`.
serve: $(STAMP)
	$(BIN)/veilleur serve --db $(OUT)/demo.db

# The published formats, generated from the code (tests fail when the committed copies drift):
# the event format's JSON Schema and the OpenAPI document.
schemas: $(STAMP)
	$(BIN)/veilleur schema events --out schemas/events.schema.json
	$(BIN)/veilleur serve --openapi docs/openapi.json

# Detection measured on writing it was not tuned on: the corpus (families tuned on, unseen
# families, a million ordinary messages) and, when the shared reference data is beside the
# checkout, eval-a (written outside the team).
EVAL_A ?= ../shared/testdata/eval-a
eval: $(STAMP)
	$(BIN)/veilleur eval --corpus --benign 1000000 --json $(OUT)/eval-corpus.json
	@if [ -d $(EVAL_A) ]; then $(BIN)/veilleur eval $(EVAL_A) --labels $(EVAL_A)/labels.jsonl \
	    --bank $(EVAL_A)/bank.csv --json $(OUT)/eval-a.json; \
	else echo "eval-a not found at $(EVAL_A): skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check --output-format concise src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collects no test: that is a broken suite, never a pass.
unit: $(STAMP)
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test: lint typecheck unit

# The learned tier (text.learned): model and MODEL_CARD.md from the corpus of phrasing families,
# the project's labelled ordinary messages as extra negatives. Same corpus and seed, same bytes.
.PHONY: train
train: $(STAMP)
	$(BIN)/veilleur train --families src/veilleur/corpus/families \
	    --out src/veilleur/policies/model --negatives tests/data/labelled/corpus.toml

# The meaning bank (conversations and servers read by meaning): six messages of every training
# family embedded by multilingual-e5-small (about 4 minutes on this machine's 2 cores).
.PHONY: bank
bank: $(STAMP)
	$(BIN)/veilleur train --meaning-bank --families src/veilleur/corpus/families \
	    --out src/veilleur/policies/model

# The meaning head (the learned tier's second reader): a small network over embedded training
# families and ordinary chat; after `train`, whose model picks the chat it is asked about.
.PHONY: head
head: $(STAMP)
	$(BIN)/veilleur train --meaning-head --families src/veilleur/corpus/families \
	    --out src/veilleur/policies/model

bench: $(STAMP)
	$(BIN)/python bench/scan_throughput.py --messages 1000000

# Media: hashing throughput, the PDQ index at 10 M hashes, robustness on 2,000 pictures,
# retroactive matching. About 20 minutes on 2 cores.
bench-media: $(STAMP)
	$(BIN)/python bench/hashing.py --images 300
	$(BIN)/python bench/pdq_index.py --hashes 10000000
	$(BIN)/python bench/robustness.py --images 2000 --json bench/out/robustness.json
	$(BIN)/python bench/retroactive.py --media 200000 --entries 10000

# Casework: the scenario suite inside 1,000,000 events of ordinary traffic, 2 reviewers at
# 5 minutes a case, side by side with the FIFO baseline (about 1.5 minutes).
bench-replay: $(STAMP)
	$(BIN)/python bench/replay.py --events 1000000

# The service over loopback: batch ingest and synchronous verdicts (about 2 minutes).
bench-service: $(STAMP)
	$(BIN)/python bench/service.py --events 200000 --clients 4 --verdicts 3000

# The README's pictures of the review console, from the demo data (examples/demo scanned
# into a temporary database; Chromium; docs/console/*.png).
screenshots: $(STAMP)
	$(BIN)/python docs/console/screenshots.py

clean:
	rm -rf $(VENV) $(OUT) bench/out .pytest_cache .mypy_cache .ruff_cache .hypothesis
