"""Rule script (analyse): deviations, error bars, HMS's falloff, lambda and 6-point tables, couplings, flow fit,
passive flow and the depth scans from the correlator table."""
from nnqft.analysis import depth, deviations, flow, hms
from nnqft.analysis.registry import asking
from nnqft.workflow import logs, tables

sm = snakemake  # noqa: F821
log = logs.log_to(sm.log[0])
experiments = sm.params.experiments

corr = tables.read_correlators(sm.input.correlators, seed=sm.params.seed)
meta = tables.provenance(seed=sm.params.seed, experiments={n: e.as_dict() for n, e in experiments.items()})

dev = deviations.deviations(corr, experiments)
KEYS = ["experiment", "sigma_b", "sigma_w", "N", "order", "combo"]
tables.check_finite(dev, ["g_mean", "g_se", "g0", "m", "g_exact"], KEYS)
tables.write_frame(dev, sm.output.deviations, meta)
log.info("deviations: %d rows", len(dev))
bars = deviations.error_bars(dev)
tables.write_frame(bars, sm.output.error_bars, meta)
log.info("error bars unreliable (heavy tails) at %d of %d points and orders",
         (bars.status == deviations.UNRELIABLE).sum(), len(bars))

fall = deviations.falloff(dev[dev.experiment.isin(list(asking(experiments, "falloff")))])
tables.check_finite(fall, ["m", "background", "m_exact", "m_expected", "se"], deviations.FALLOFF_KEYS)
tables.write_frame(fall, sm.output.hms_falloff, meta)
log.info("falloff: %s", sorted(set(fall.experiment)))

lam, slope = hms.lambda_tables(corr, experiments, sm.params.cutoffs)
tables.check_finite(lam, ["lambda", "lambda_se", "lambda_exact"], hms.LABEL_COLUMNS + ["cutoff"])
tables.write_frame(lam, sm.output.hms_lambda, meta)
tables.write_frame(slope, sm.output.hms_lambda_slope, meta)
six = hms.six_point_tables(corr, experiments, lam, sm.params.cutoffs)
tables.write_frame(six, sm.output.hms_six_point, meta)
log.info("lambda: %s; six-point: %s", sorted(set(lam.experiment)), sorted(set(six.experiment)))

per_combo, means = flow.coupling_tables(corr, experiments)
tables.check_finite(per_combo, ["u", "u_se", "u_exact"], KEYS)
tables.check_finite(means[means.note == ""], ["u", "u_se", "u_exact"], KEYS)
tables.write_frame(per_combo, sm.output.couplings, meta)
tables.write_frame(means, sm.output.coupling_means, meta)
log.info("couplings: %d rows; skipped: %s", len(per_combo), sorted(set(means[means.note != ""].experiment)))

fit = flow.flow_fit_table(means, experiments)
tables.write_frame(fit, sm.output.flow_fit, meta)
log.info("flow fit: %s", sorted(set(fit.experiment)))
tables.write_frame(flow.passive_flow_table(means, experiments), sm.output.passive_flow, meta)
running = depth.depth_running_table(corr, experiments)
tables.check_finite(running, ["kurtosis_N", "kurtosis_N_se", "kurtosis_N_theory"], ["scan", "depth", "N"])
tables.write_frame(running, sm.output.depth_running, meta)
log.info("depth scans: %s", sorted(set(running.scan)))
log.info("passive flow written (experiments asking: %s)", sorted(asking(experiments, "passive_flow")))
