# Two commands on a fresh machine: `make reproduce` (paper) and `make test` (test suite).
# Both bootstrap a local virtual environment in .venv from the pinned requirements.txt.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.requirements-installed

.PHONY: venv reproduce quick dry-run test bench clean-results

venv: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "python3 -m venv failed: on Debian/Ubuntu run 'apt-get install python3-venv' first"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

reproduce: venv        ## the paper-scale run (config/config.yaml)
	$(BIN)/snakemake --cores $(CORES)

quick: venv            ## the whole pipeline on config/quick.yaml, under 2 minutes
	$(BIN)/snakemake --cores $(CORES) --configfile config/quick.yaml

dry-run: venv          ## what the paper-scale run would do
	$(BIN)/snakemake -n --quiet rules

test: venv             ## the whole test suite
	$(BIN)/python -m pytest -ra

clean-results:
	rm -rf results/samples results/tables logs

bench: venv            ## kernel benchmark: prints a table, writes results/bench/kernel.parquet
	PYTHONPATH=scripts $(BIN)/python -m nnqft.bench
