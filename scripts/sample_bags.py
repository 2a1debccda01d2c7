"""Rule script (sample_bags): correlators of one block of bags of one parameter point."""
import os
import sys
import time

# On its first call numba imports scipy's BLAS bindings only to learn whether np.dot can be compiled;
# the sampling kernel uses no BLAS, and blocking that import saves ~0.3 s of every job's start-up.
sys.modules.setdefault("scipy.linalg.cython_blas", None)

import numba

from nnqft.sampling import bags as sampling
from nnqft.workflow import design, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
model, seed, bags = design.block_of(sm.wildcards, sm.params.points, sm.params.stream_version)
if sm.threads > 1:
    numba.set_num_threads(sm.threads)
if "SLURM_JOB_ID" in os.environ:
    log.info("running in SLURM job %s on %s", os.environ["SLURM_JOB_ID"], os.uname().nodename)

if sm.params.backend == "cuda":
    from nnqft.sampling import cuda_kernel

    cuda_kernel.require_gpu()  # its error, with a hint, goes to the log (nnqft.logs)

start = time.perf_counter()
table = sampling.block_table(model, seed, bags, sm.params.orders, threads=sm.threads, backend=sm.params.backend)
elapsed = time.perf_counter() - start
meta = tables.block_provenance(model, seed, bags, sm.params.orders, backend=sm.params.backend)
meta["kernel_seconds"] = elapsed
if sm.params.backend == "cuda":
    meta["device"] = cuda_kernel.device_info()
    log.info("CUDA device: %s", meta["device"])
tables.write_table(table, sm.output[0], meta)
log.info("%s d_in=%d depth=%d %s N=%d sigma_w=%s bags %d-%d: %.3f s kernel, %.3g neurons/s, backend %s, %d threads",
         model.activation, model.d_in, model.depth, model.estimator, model.N, model.sigma_w, bags.start,
         bags.stop - 1, elapsed, model.depth * model.N * model.n_nets * len(bags) / elapsed, sm.params.backend,
         sm.threads)
