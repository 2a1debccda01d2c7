"""Rule script (gather_correlators, gather_trained, gather_outputs): one long table of all bags of all points of one
kind (a trained block has the columns ``training`` and ``time`` and its ensemble its own orders; a block of several
outputs the column ``d_out``); an untrained one gains ``time`` = 0 (tables.with_time), as every table does)."""
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nnqft.workflow import logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
common = {"seed": sm.params.seed, "orders": list(sm.params.orders), "backend": sm.params.backend,
          "stream_version": sm.params.stream_version}

parts = []
for path in sm.input:
    # results/samples/seed{seed}/{ensemble}/sb..._sw..._N.../bags....parquet: the ensemble the path names
    ensemble = sm.params.ensembles[Path(path).parts[-3]]
    expected = {**common, "activation": ensemble["activation"], "d_in": ensemble["d_in"], "depth": ensemble["depth"],
                "points": ensemble["points"], "n_nets": ensemble["n_nets"], "estimator": ensemble["estimator"]}
    if "training" in ensemble:
        expected.update(orders=ensemble["orders"], training=ensemble["training"])
    if "d_out" in ensemble:
        expected["d_out"] = ensemble["d_out"]
    part = tables.read_table(path)
    meta = json.loads(part.schema.metadata[tables.METADATA_KEY])
    params = {"depth": 1, **meta["params"], "backend": meta["backend"], "stream_version": meta["stream_version"]}
    if "depth" not in part.column_names:  # sampled before networks had a depth: one hidden layer
        part = part.add_column(2, "depth", pa.array(np.ones(part.num_rows, dtype=np.int64)))
    for key, want in expected.items():
        if params.get(key) != want:
            raise tables.TableError(f"{path} was sampled with {key} = {params.get(key)} but the config says {want}; "
                                    f"delete it and rerun, or restore the config")
    parts.append(part)
table = pa.concat_tables(parts, promote_options="permissive").combine_chunks()
extra = [c for c in ("training", "time", "d_out") if c in table.column_names]  # the kind's own keys
order_by = tables.SAMPLE_KEYS + extra + ["bag", "order"]
keys = pa.table({k: pc.cast(table[k], pa.string()) if pa.types.is_dictionary(table[k].type) else table[k]
                 for k in order_by})  # arrow sorts no dictionary columns: their text instead
table = table.take(pc.sort_indices(keys, [(k, "ascending") for k in order_by]))
table = table.combine_chunks()
named = tables.SAMPLE_KEYS + [c for c in extra if c != "training"] + ["bag", "combo"]
tables.check_finite(table.select(named + ["value"]).to_pandas(), ["value"], named)
meta = tables.provenance(backend=sm.params.backend, seed=sm.params.seed, orders=list(sm.params.orders),
                         ensembles=sm.params.ensembles,
                         experiments={n: e.as_dict() for n, e in sm.params.experiments.items()})
tables.write_table(tables.with_time(table), sm.output[0], meta)
log.info("gathered %d blocks, %d rows", len(parts), table.num_rows)
