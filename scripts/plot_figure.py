"""Rule script (plot_*): one figure of nnqft.figure_list from the analysis tables, as PDF and PNG.

Each figure rule carries the digest of its own plotting function and of what that function uses, so
editing one figure's code in nnqft/figures.py reruns that figure and leaves every other one and all
tables alone.
"""
import pandas as pd

from nnqft import figure_list, figures, logs

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
spec = figure_list.figure(sm.params.figure)
frames = {name: pd.read_parquet(path) for name, path in sm.input.items()}
fig = figures.draw(spec, frames)
figures.save(fig, sm.output.pdf, sm.output.png)
log.info("figure %s from %s", spec.name, ", ".join(spec.tables))
