"""Rule script (gather_correlators): one long table of all bags of all points."""
import json

import pyarrow as pa
import pyarrow.compute as pc

from nnqft import logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
expected = {"seed": sm.params.seed, "n_nets": sm.params.n_nets, "points": list(sm.params.points),
            "orders": list(sm.params.orders), "backend": sm.params.backend,
            "stream_version": sm.params.stream_version}

parts = []
for path in sm.input:
    part = tables.read_table(path)
    meta = json.loads(part.schema.metadata[tables.METADATA_KEY])
    params = {**meta["params"], "backend": meta["backend"], "stream_version": meta["stream_version"]}
    for key, want in expected.items():
        if params[key] != want:
            raise tables.TableError(f"{path} was sampled with {key} = {params[key]} but the config says {want}; "
                                    f"delete it and rerun, or restore the config")
    parts.append(part)
table = pa.concat_tables(parts, promote_options="permissive").combine_chunks()
table = table.take(pc.sort_indices(table, [(k, "ascending") for k in ("sigma_b", "sigma_w", "N", "bag", "order")]))
table = table.combine_chunks()
tables.check_finite(table.select(["sigma_b", "sigma_w", "N", "bag", "combo", "value"]).to_pandas(), ["value"],
                    ["sigma_b", "sigma_w", "N", "bag", "combo"])
meta = tables.provenance(backend=sm.params.backend, seed=sm.params.seed, n_nets=sm.params.n_nets,
                         points=list(sm.params.points), orders=list(sm.params.orders),
                         experiments=sm.params.experiments)
tables.write_table(table, sm.output[0], meta)
log.info("gathered %d blocks, %d rows", len(parts), table.num_rows)
