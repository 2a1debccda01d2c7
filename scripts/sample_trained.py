"""Rule script (sample_trained): correlators of one block of bags of one trained parameter point, at every recorded
flow time (nnqft.sampling.training)."""
import time

from nnqft import STREAM_VERSION
from nnqft.model import Model, Training
from nnqft.sampling import training as trained_sampling
from nnqft.workflow import design, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
if sm.params.stream_version != STREAM_VERSION:
    raise RuntimeError(f"the rule asks for random-stream layout {sm.params.stream_version}, but the nnqft "
                       f"package imported here ({design.__file__}) draws layout {STREAM_VERSION}")
wc = sm.wildcards
seed = int(wc.seed)
spec = sm.params.training
training = Training(spec["inputs"], spec["targets"], spec["times"], spec["layers"])
if training.training_id != wc.training_id:
    raise RuntimeError(f"the path names training {wc.training_id} but the rule passed training {training.training_id}")
model = Model(wc.activation, sm.params.points, sigma_b=design.parse_float(wc.sigma_b),
              sigma_w=design.parse_float(wc.sigma_w), N=int(wc.N), n_nets=int(wc.n_nets), estimator=wc.estimator,
              training=training)
if model.d_in != int(wc.d_in):
    raise RuntimeError(f"the path says d_in = {wc.d_in} but point set {wc.points_id} has {model.d_in} coordinates")
bags = range(int(wc.first), int(wc.last) + 1)
orders = list(sm.params.orders)

start = time.perf_counter()
table = trained_sampling.block_table(model, seed, bags, orders)
elapsed = time.perf_counter() - start
meta = tables.provenance(seed=seed, activation=model.activation, estimator=model.estimator, d_in=model.d_in,
                         points=[list(p) for p in model.points], sigma_b=model.sigma_b, sigma_w=model.sigma_w,
                         N=model.N, n_nets=model.n_nets, depth=model.depth, bags=[bags.start, bags.stop - 1],
                         orders=orders, training=training.as_dict())
meta["kernel_seconds"] = elapsed
tables.write_table(table, sm.output[0], meta)
log.info("%s d_in=%d trained (%s, %s) N=%d sigma_w=%s bags %d-%d: %.3f s, %.3g networks/s",
         model.activation, model.d_in, training.layers, model.estimator, model.N, model.sigma_w, bags.start,
         bags.stop - 1, elapsed, model.n_nets * len(bags) / elapsed)
