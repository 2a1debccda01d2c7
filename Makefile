# Two commands on a fresh machine: `make reproduce` (paper) and `make test` (test suite).
# Both bootstrap a local virtual environment in .venv from the pinned requirements.txt, with the nnqft
# package installed into it in editable mode (`pip install -e .`); `make test` adds requirements-dev.txt.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.requirements-installed
DEV_STAMP = $(VENV)/.dev-requirements-installed

SLURM_VENV  ?= .venv-slurm
SLURM_STAMP  = $(SLURM_VENV)/.requirements-installed
CUDA_VENV   ?= .venv-cuda
CUDA_STAMP   = $(CUDA_VENV)/.requirements-installed

.PHONY: venv venv-dev lint venv-slurm venv-cuda reproduce paper hms d-in-scans reproduce-gpu quick architectures estimators training d-out dry-run test test-fast bench bench-estimators bench-deep bench-training bench-cuda depth cuda-compile clean-results clean-cache slurm-start slurm-stop

venv: $(STAMP)

# .venv plus the development tools (snakefmt), pinned in requirements-dev.txt.
venv-dev: $(DEV_STAMP)

# .venv plus the SLURM executor plugin (requirements-slurm.txt), as an overlay: a .pth file puts .venv's
# packages on the path, and only the plugin is installed here. Kept apart from .venv: see requirements-slurm.txt.
venv-slurm: $(SLURM_STAMP)

# .venv plus numba-cuda and the CUDA toolkit wheels (requirements-cuda.txt), the same kind of overlay.
venv-cuda: $(CUDA_STAMP)

# An overlay venv on top of .venv: $(call overlay,DIR,REQUIREMENTS). Its .pth file adds .venv's
# site-packages as a site directory, so that .venv's own .pth files (the editable nnqft) are read too.
define overlay
	rm -rf $(1)
	$(BIN)/python -m venv --without-pip $(1)
	$(BIN)/python -c 'import sysconfig; print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' > \
	  "$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nnqft-base-venv.pth"
	$(BIN)/python -m pip --python $(1)/bin/python install --quiet --no-deps \
	  $$(grep -E '^[A-Za-z0-9_.-]+==' $(2))
	$(BIN)/python -m pip --python $(1)/bin/python check
	@touch $@
endef

$(SLURM_STAMP): $(STAMP) requirements-slurm.txt
	$(call overlay,$(SLURM_VENV),requirements-slurm.txt)

$(CUDA_STAMP): $(STAMP) requirements-cuda.txt
	$(call overlay,$(CUDA_VENV),requirements-cuda.txt)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "python3 -m venv failed: on Debian/Ubuntu run 'apt-get install python3-venv' first"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip check
	@touch $@

# Every paper's config, merged into one run (their experiments have distinct names; every key the configs set
# differently is set per experiment), so that one results/ holds all tables, figures and claims.
ALL_CONFIGS = config/config.yaml config/estimators.yaml config/hms.yaml config/d_in_scans.yaml

reproduce: venv        ## everything: the renormalization paper and talk, the estimators, HMS, the d_in scans
	$(BIN)/snakemake --cores $(CORES) --configfile $(ALL_CONFIGS)

paper: venv            ## the renormalization paper alone (config/config.yaml)
	$(BIN)/snakemake --cores $(CORES)

hms: venv              ## Halverson, Maiti, Stoner alone (config/hms.yaml)
	$(BIN)/snakemake --cores $(CORES) --configfile config/hms.yaml

d-in-scans: venv       ## the sigma_w scans at d_in = 2 and 3 alone (config/d_in_scans.yaml)
	$(BIN)/snakemake --cores $(CORES) --configfile config/d_in_scans.yaml

depth: venv            ## deep networks: the depth scans of config/depth.yaml (about 8 minutes on 2 cores)
	$(BIN)/snakemake --cores $(CORES) --configfile config/depth.yaml

training: venv         ## trained ensembles against the NTK theory (config/training.yaml, about 9 minutes on 2 cores)
	$(BIN)/snakemake --cores $(CORES) --configfile config/training.yaml

d-out: venv            ## networks of several outputs against their exact theory (config/d_out.yaml, a few minutes)
	$(BIN)/snakemake --cores $(CORES) --configfile config/d_out.yaml

quick: venv            ## the whole pipeline on config/quick.yaml, under 2 minutes
	$(BIN)/snakemake --cores $(CORES) --configfile config/quick.yaml

architectures: venv    ## GaussNet, ReLU and Erf at d_in = 1, 2, 3 (config/architectures_quick.yaml), about a minute
	$(BIN)/snakemake --cores $(CORES) --configfile config/architectures_quick.yaml

estimators: venv       ## the paper's sigma_w scan with the plain and the conditional estimator (config/estimators.yaml)
	$(BIN)/snakemake --cores $(CORES) --configfile config/estimators.yaml

dry-run: venv          ## what make reproduce would do
	$(BIN)/snakemake -n --quiet rules --configfile $(ALL_CONFIGS)

# The tests run in TEST_WORKERS processes (pytest-xdist), one test module at a time per process: a module's
# fixtures (a complete run, the local SLURM cluster) stay in one process, and runs shared by several modules are
# made once under a lock (tests/conftest.py). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2

test: venv-dev venv-slurm venv-cuda  ## the whole test suite (the SLURM test installs and starts a local cluster)
	$(BIN)/python -m nnqft.sampling.precompile
	$(BIN)/python -m pytest -ra --durations=15 -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: venv-dev venv-cuda  ## the tests that run no Snakemake: the package's own (tests/unit), a few minutes
	$(BIN)/python -m nnqft.sampling.precompile
	$(BIN)/python -m pytest -ra --durations=10 -m "not workflow and not slurm" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: venv-dev         ## snakemake --lint (paper and quick configs) and snakefmt --check, as the tests run them
	$(BIN)/snakemake --lint --configfile config/config.yaml
	$(BIN)/snakemake --lint --configfile config/quick.yaml
	$(BIN)/snakefmt --check .

clean-results:
	rm -rf results/samples results/tables logs

clean-cache:           ## numba's compiled kernels, one folder per edit of their sources (nnqft.sampling.kernel_cache)
	rm -rf scripts/nnqft/__pycache__/numba-*
	find scripts -name '*.nbi' -delete -o -name '*.nbc' -delete

bench: venv            ## kernel benchmark: prints a table, writes results/bench/kernel.parquet
	$(BIN)/python -m nnqft.bench.kernel

bench-estimators: venv  ## plain vs conditional estimator: time, variances, speed-up; writes results/bench/estimators.parquet
	$(BIN)/python -m nnqft.bench.estimators

bench-deep: venv       ## deep networks: the layer-by-layer kernel vs the numpy reference; writes results/bench/deep.parquet
	$(BIN)/python -m nnqft.bench.deep

bench-training: venv   ## the training kernel vs batched numpy, network-steps per second; writes results/bench/training.parquet
	$(BIN)/python -m nnqft.bench.training

reproduce-gpu: venv-cuda  ## the paper-scale run with the CUDA backend, on this node's GPU
	$(CUDA_VENV)/bin/python -m snakemake --workflow-profile workflow/profiles/gpu --cores $(CORES)

bench-cuda: venv-cuda  ## GPU benchmark (needs a CUDA GPU): writes results/bench/cuda.parquet
	$(CUDA_VENV)/bin/python -m nnqft.bench.cuda --end-to-end

cuda-compile: venv-cuda  ## compile the CUDA kernels for A100/H100 without a GPU; print registers and spills
	$(CUDA_VENV)/bin/python -m nnqft.sampling.cuda_compile

slurm-start:           ## install and start a single-node SLURM cluster on this machine (root, Debian)
	bash tests/slurm/start_cluster.sh

slurm-stop:            ## stop the daemons slurm-start started
	bash tests/slurm/stop_cluster.sh
