"""Rule script (analyse_*): one analysis step of nnqft.analysis.registry.TABLES, from the tables it reads to the
tables it writes (each checked for NaN and inf where nnqft.analysis.steps.FINITE asks)."""
import pandas as pd

from nnqft.analysis import registry, steps
from nnqft.workflow import logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
spec = registry.step(sm.params.step)
experiments = sm.params.experiments
frames = {name: tables.read_correlators(path, seed=sm.params.seed) if name.endswith("correlators") else pd.read_parquet(path)
          for name, path in sm.input.items()}
meta = tables.provenance(seed=sm.params.seed, experiments={n: e.as_dict() for n, e in experiments.items()})
for name, frame in steps.compute(spec, frames, experiments, sm.params.cutoffs).items():
    if name in steps.FINITE:
        tables.check_finite(steps.finite_rows(name, frame), *steps.FINITE[name])
    tables.write_frame(tables.with_time(frame), sm.output[name], meta)
    log.info("%s: %d rows%s", name, len(frame),
             f" ({', '.join(sorted(set(frame.experiment)))})" if "experiment" in frame.columns else "")
