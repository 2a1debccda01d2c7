"""Rule script (analyse): deviations, couplings, HMS's falloff, lambda and 6-point tables, flow fit and passive flow
from the correlator table."""

import pandas as pd

from nnqft import analysis, design, logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
experiments = sm.params.experiments

corr = tables.read_correlators(sm.input.correlators, seed=sm.params.seed)
meta = tables.provenance(seed=sm.params.seed, experiments=experiments)

dev = analysis.deviations(corr, experiments)
KEYS = ["experiment", "sigma_b", "sigma_w", "N", "order", "combo"]
tables.check_finite(dev, ["g_mean", "g_se", "g0", "m", "g_exact"], KEYS)
tables.write_frame(dev, sm.output.deviations, meta)
log.info("deviations: %d rows", len(dev))
bars = analysis.error_bars(dev)
tables.write_frame(bars, sm.output.error_bars, meta)
log.info("error bars unreliable (heavy tails) at %d of %d points and orders", (bars.status == analysis.UNRELIABLE).sum(),
         len(bars))

fall = analysis.falloff(dev[dev.experiment.isin(list(design.asking(experiments, "falloff")))])
tables.check_finite(fall, ["m", "background", "m_exact", "m_expected", "se"], analysis.FALLOFF_KEYS)
tables.write_frame(fall, sm.output.hms_falloff, meta)
log.info("falloff: %s", sorted(set(fall.experiment)))

lam, slope = analysis.lambda_tables(corr, experiments, sm.params.cutoffs)
tables.check_finite(lam, ["lambda", "lambda_se", "lambda_exact"], analysis.LABEL_COLUMNS + ["cutoff"])
tables.write_frame(lam, sm.output.hms_lambda, meta)
tables.write_frame(slope, sm.output.hms_lambda_slope, meta)
six = analysis.six_point_tables(corr, experiments, lam, sm.params.cutoffs)
tables.write_frame(six, sm.output.hms_six_point, meta)
log.info("lambda: %s; six-point: %s", sorted(set(lam.experiment)), sorted(set(six.experiment)))

per_combo, means = analysis.coupling_tables(corr, experiments)
tables.check_finite(per_combo, ["u", "u_se", "u_exact"], KEYS)
tables.check_finite(means[means.note == ""], ["u", "u_se", "u_exact"], KEYS)
tables.write_frame(per_combo, sm.output.couplings, meta)
tables.write_frame(means, sm.output.coupling_means, meta)
log.info("couplings: %d rows; skipped: %s", len(per_combo), sorted(set(means[means.note != ""].experiment)))

# The flow fit of every experiment that asks for it (one row per experiment, N, order), and the passive flow of the
# one that asks for it (none: empty); nnqft.design.check_config made sure they are GaussNet sigma_w scans.
fits = []
for name, exp in design.asking(experiments, "flow_fit").items():
    fit = analysis.flow_fit(means[means.experiment == name], d_in=exp["d_in"])
    for col, value in reversed([("experiment", name), ("activation", exp["activation"]), ("d_in", exp["d_in"]),
                                ("estimator", exp["estimator"])]):
        fit.insert(0, col, value)
    fits.append(fit)
fit = pd.concat(fits, ignore_index=True) if fits else pd.DataFrame(
    columns=["experiment", "activation", "d_in", "estimator", *analysis.FLOW_FIT_COLUMNS])
tables.write_frame(fit, sm.output.flow_fit, meta)
log.info("flow fit: %s", sorted(set(fit.experiment)))

scan = next(iter(design.asking(experiments, "passive_flow")), None)
flows = []
if scan is not None:
    start = means[(means.experiment == scan)]
    start = start[start.sigma_w == start.sigma_w.min()]
    for N, g in start.groupby("N"):
        flow = analysis.passive_flow(g.sigma_w.iloc[0], g[g.order == 4].u.iloc[0], g[g.order == 6].u.iloc[0],
                                     d=experiments[scan]["d_in"])
        flow.insert(0, "N", N)
        flows.append(flow)
tables.write_frame(pd.concat(flows, ignore_index=True) if flows else pd.DataFrame(columns=["N", "t", "k"]),
                   sm.output.passive_flow, meta)
log.info("passive flow written (experiment %s)", scan)
