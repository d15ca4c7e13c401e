# The two commands (see README):
#   make run    set up, train the reference assistant and start it (web chat page)
#   make test   set up and run the whole test suite (pytest + rasa test)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source scripts/env.sh &&
RASA := .venv/bin/rasa

.PHONY: setup services train run shell test validate pytest rasa-test clean

setup:
	bash scripts/setup.sh

# PostgreSQL and Redis on loopback, for the tests (started or installed if missing).
services:
	bash scripts/services.sh

# Rasa fingerprints every component: an unchanged project trains nothing.
train: setup
	$(ENV) $(RASA) train --domain domain.yml --data data --config config.yml

# Action server + Rasa with every channel; prints the chat page's address.
run: train
	bash scripts/serve.sh

# The same assistant in the terminal (`rasa shell`).
shell: train
	bash scripts/shell.sh

validate: setup
	$(ENV) $(RASA) data validate --domain domain.yml --data data --config config.yml

pytest: train services
	$(ENV) .venv/bin/pytest tests

# Rasa's own evaluation of the test stories (NLU and dialogue, end to end): the full
# report in results/, then a failure if any story failed.
rasa-test: train
	$(ENV) $(RASA) test --stories tests/test_stories.yml --out results
	@grep -q "None of the test stories failed" results/failed_test_stories.yml \
	  || { echo "rasa test: failed stories (see results/failed_test_stories.yml):"; cat results/failed_test_stories.yml; exit 1; }

test: validate pytest rasa-test

clean:
	rm -rf models results var .pytest_cache
