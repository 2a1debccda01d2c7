"""Rule script (sample_outputs): correlators of one block of bags of one point of several outputs, by its estimator
(nnqft.sampling.outputs)."""
import time

from nnqft.sampling import outputs
from nnqft.workflow import design, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
model, seed, bags = design.block_of(sm.wildcards, sm.params.points, sm.params.stream_version)
orders = list(sm.params.orders)

start = time.perf_counter()
table = outputs.block_table(model, seed, bags, orders)
elapsed = time.perf_counter() - start
meta = tables.block_provenance(model, seed, bags, orders, d_out=model.d_out)
meta["kernel_seconds"] = elapsed
tables.write_table(table, sm.output[0], meta)
log.info("%s d_in=%d depth=%d d_out=%d %s N=%d sigma_w=%s bags %d-%d: %.3f s, %.3g networks/s", model.activation,
         model.d_in, model.depth, model.d_out, model.estimator, model.N, model.sigma_w, bags.start, bags.stop - 1,
         elapsed, model.n_nets * len(bags) / elapsed)
