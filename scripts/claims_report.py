"""Rule script (claims): the papers' claims with computed verdicts, as Markdown and Parquet."""
import pandas as pd

from nnqft import claims, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
falloff, per_combo, means, fit = (
    pd.read_parquet(p) for p in (sm.input.falloff, sm.input.couplings, sm.input.coupling_means, sm.input.flow_fit)
)
table = claims.claims_table(falloff, per_combo, means, fit,
                            {name: exp["analyses"] for name, exp in sm.params.experiments.items()})
tables.write_frame(table, sm.output.table, tables.read_metadata(sm.input.falloff))
tables.write_text(claims.to_markdown(table), sm.output.markdown)
log.info("%d claims, verdicts: %s", len(table), ", ".join(table["verdict"]))
