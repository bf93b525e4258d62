VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test bench cluster cluster-stop

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m streamlit run serve.py --server.port $(PORT)

test: $(VENV)/.installed
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) bench/speed.py

# The scale-out profile on one machine: PostgreSQL + Redis (temporary, free ports), two Celery
# workers, beat and the dashboard on $(PORT); Ctrl-C or `make cluster-stop` stops it all.
cluster: $(VENV)/.installed
	$(PY) bench/cluster.py --port $(PORT)

cluster-stop:
	$(PY) bench/cluster.py stop
