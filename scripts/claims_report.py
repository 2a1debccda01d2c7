"""Rule script (claims): the paper's claims with computed verdicts, as Markdown and Parquet."""
import pandas as pd

from nnqft import claims, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
dev, per_combo, means, fit = (
    pd.read_parquet(p) for p in (sm.input.deviations, sm.input.couplings, sm.input.coupling_means, sm.input.flow_fit)
)
table = claims.claims_table(dev, per_combo, means, fit)
tables.write_frame(table, sm.output.table, tables.read_metadata(sm.input.deviations))
tables.write_text(claims.to_markdown(table), sm.output.markdown)
log.info("%d claims, verdicts: %s", len(table), ", ".join(table["verdict"]))
