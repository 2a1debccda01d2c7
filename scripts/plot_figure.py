"""Rule script (plot_*): one figure from the analysis tables, as PDF and PNG.

Each figure rule names its own plotting function, so editing one figure's code in
nnqft/figures.py and rerunning that rule leaves every other figure and all tables alone.
"""
import pandas as pd

from nnqft import figures

sm = snakemake  # noqa: F821
frames = {name: pd.read_parquet(path) for name, path in sm.input.items()}
name = sm.params.figure
if name == "histograms":
    fig = figures.histograms(frames["deviations"])
elif name == "mean_deviation_vs_N":
    fig = figures.mean_deviation_vs_N(frames["deviations"])
elif name == "u4_vs_N":
    fig = figures.u4_vs_N(frames["coupling_means"])
elif name == "u4_vs_sigma":
    fig = figures.coupling_vs_sigma(frames["coupling_means"], frames["flow_fit"], 4)
elif name == "u6_vs_sigma":
    fig = figures.coupling_vs_sigma(frames["coupling_means"], frames["flow_fit"], 6)
elif name == "passive_flow":
    fig = figures.passive_flow(frames["passive_flow"], frames["coupling_means"])
elif name == "validation":
    fig = figures.validation(frames["deviations"])
else:
    raise ValueError(f"unknown figure {name!r}")
figures.save(fig, sm.output.pdf, sm.output.png)
