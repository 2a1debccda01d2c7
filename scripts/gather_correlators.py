"""Rule script (gather_correlators): one long table of all bags of all points."""
import json
import logging

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nnqft import tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")  # noqa: F821
sm = snakemake  # noqa: F821

parts = [pq.read_table(path) for path in sm.input]
table = pa.concat_tables(parts, promote_options="permissive").combine_chunks()
table = table.take(pc.sort_indices(table, [(k, "ascending") for k in ("sigma_b", "sigma_w", "N", "bag", "order")]))
table = table.combine_chunks()
meta = tables.provenance(seed=sm.params.seed, n_nets=sm.params.n_nets, points=list(sm.params.points),
                         orders=list(sm.params.orders), experiments=sm.params.experiments)
tables.write_table(table, sm.output[0], meta)
logging.info("gathered %d blocks, %d rows", len(parts), table.num_rows)
