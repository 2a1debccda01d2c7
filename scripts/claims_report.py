"""Rule script (claims): the papers' claims with computed verdicts, as Markdown and Parquet."""
import pandas as pd

from nnqft.analysis import claims
from nnqft.workflow import logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
frames = {name: pd.read_parquet(path) for name, path in sm.input.items()}
table = claims.claims_table(frames, sm.params.experiments)
tables.write_frame(table, sm.output.table, tables.read_metadata(getattr(sm.input, "hms_falloff", sm.input[0])))
tables.write_text(claims.to_markdown(table), sm.output.markdown)
log.info("%d claims; agreement: %s; statements measured: %s", len(table), ", ".join(table.agreement),
         ", ".join(table.statement_measured))
