"""Rule script (sample_trained): correlators of one block of bags of one trained parameter point, at every recorded
flow time (nnqft.sampling.training)."""
import time

from nnqft.model import Training
from nnqft.sampling import training as trained_sampling
from nnqft.workflow import design, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
training = Training(**sm.params.training)
if training.training_id != sm.wildcards.training_id:
    raise RuntimeError(f"the path names training {sm.wildcards.training_id} but the rule passed training "
                       f"{training.training_id}")
model, seed, bags = design.block_of(sm.wildcards, sm.params.points, sm.params.stream_version, training)
orders = list(sm.params.orders)

start = time.perf_counter()
table = trained_sampling.block_table(model, seed, bags, orders)
elapsed = time.perf_counter() - start
meta = tables.block_provenance(model, seed, bags, orders, training=training.as_dict())
meta["kernel_seconds"] = elapsed
tables.write_table(table, sm.output[0], meta)
log.info("%s d_in=%d trained (%s, %s) N=%d sigma_w=%s bags %d-%d: %.3f s, %.3g networks/s",
         model.activation, model.d_in, training.layers, model.estimator, model.N, model.sigma_w, bags.start,
         bags.stop - 1, elapsed, model.n_nets * len(bags) / elapsed)
