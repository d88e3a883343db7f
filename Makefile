# One command each: `make run` starts the whole system with demo data; `make test` runs every test
# against real servers it starts (and stops) itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := identity patients notifications gateway web
# Each owns a database and migrates it with `python -m <service> migrate` (web: its server-side sessions).
DATA_SERVICES := identity patients notifications web
STAMP := $(VENV)/.installed

.PHONY: install run migrate seed realm test test-fast fuzz bench load chaos clean

$(STAMP): libs/servicekit/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml) requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e libs/servicekit $(foreach s,$(SERVICES),-e services/$(s)) -r requirements-dev.txt
	@touch $@

install: $(STAMP)

migrate: $(STAMP)
	@for s in $(DATA_SERVICES); do $(PY) -m $$s migrate || exit 1; done

seed: migrate
	@$(PY) -m patients load-reference

run: $(STAMP)
	@dev/run.sh

# Re-create realm danbio in the running Keycloak from deploy/keycloak/realm-danbio.json (deletes its users).
realm: $(STAMP)
	@$(PY) dev/keycloak_realm.py replace

test: $(STAMP)
	@dev/test.sh

# The long fuzzing run (tests/e2e/test_fuzz.py): >= 1,000 generated requests per service.
fuzz: $(STAMP)
	@FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} FUZZ_REQUESTS_PER_SERVICE=$${FUZZ_REQUESTS_PER_SERVICE:-1000} dev/test.sh -s tests/e2e/test_fuzz.py

bench: $(STAMP)
	@dev/bench.sh

# Load test (bench/load.py): 50 people through the web UI for 5 minutes; p50/p99 per endpoint.
# LOAD_USERS / LOAD_SECONDS / LOAD_ADMINS change the run.
load: $(STAMP)
	@BENCHES=load dev/bench.sh

# The outage tests (tests/chaos) at full size: RabbitMQ stopped 30 s during 1,000 user creations,
# each worker SIGKILLed during 300, Keycloak stopped during creations and unlock, PostgreSQL
# restarted. Prints what went in and came out per outage (and writes it to CHAOS_REPORT if set).
# It stops and starts the servers of this machine: nobody else may be using them meanwhile.
chaos: $(STAMP)
	@CHAOS_USERS=$${CHAOS_USERS:-1000} CHAOS_RABBITMQ_DOWN_SECONDS=$${CHAOS_RABBITMQ_DOWN_SECONDS:-30} \
		CHAOS_KILL_USERS=$${CHAOS_KILL_USERS:-300} dev/test.sh tests/chaos

clean:
	rm -rf .data
