"""The analysis steps: each computes one table (or two that come from one computation) from the tables it reads.
Each has the signature ``step(frames, experiments, cutoffs) -> {table name: DataFrame}``, ``frames`` the tables it
reads by name (:data:`nnqft.analysis.registry.TABLES` lists what each reads and writes), ``experiments`` the complete
experiments (name -> :class:`nnqft.model.Experiment`), ``cutoffs`` HMS's cutoffs; nothing reads or writes files.
"""
from __future__ import annotations

import pandas as pd

from . import deviations as dev_
from . import depth, flow, hms, outputs as outputs_, training as training_
from .registry import Step, asking

_KEYS = ["experiment", "sigma_b", "sigma_w", "N", "order", "combo"]
#: Per table, the value columns that must be finite (no NaN or inf) and the key columns that name a bad row; see
#: :func:`finite_rows` for which rows.
FINITE = {
    "deviations": (["g_mean", "g_se", "g0", "m", "g_exact"], _KEYS),
    "hms_falloff": (["m", "background", "m_exact", "m_expected", "se"], dev_.FALLOFF_KEYS),
    "hms_lambda": (["lambda", "lambda_se", "lambda_exact"], hms.LABEL_COLUMNS + ["cutoff"]),
    "hms_integrals": (["i4"], ["experiment", "sigma_b", "sigma_w", "combo", "cutoff"]),
    "couplings": (["u", "u_se", "u_exact"], _KEYS),
    "coupling_means": (["u", "u_se", "u_exact"], _KEYS),
    "depth_running": (["kurtosis_N", "kurtosis_N_se", "kurtosis_N_theory"], ["scan", "depth", "N"]),
    "training": (["value", "se", "theory", "N_deviation"], ["experiment", "sigma_w", "N", "time", "quantity", "point"]),
    "outputs": (["value", "se", "exact"], ["experiment", "sigma_w", "N", "quantity", "combo"]),
    "outputs_falloff": (["m", "background", "m_exact", "m_expected", "se"], outputs_.FALLOFF_KEYS),
}


def finite_rows(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of table ``name`` whose FINITE columns must be finite: all, but the coupling means of experiments
    whose couplings are skipped (a ``note`` says why, and their values are NaN)."""
    return frame[frame.note == ""] if name == "coupling_means" else frame


def deviations(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """Deviations from the Gaussian process beside the theory (:func:`nnqft.analysis.deviations.deviations`)."""
    return {"deviations": dev_.deviations(frames["correlators"], experiments)}


def error_bars(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """Whether each point's bag-to-bag error bars can be trusted (:func:`nnqft.analysis.deviations.error_bars`)."""
    return {"error_bars": dev_.error_bars(frames["deviations"])}


def hms_falloff(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """HMS's falloff of the experiments asking for ``falloff`` (:func:`nnqft.analysis.deviations.falloff`)."""
    dev = frames["deviations"]
    return {"hms_falloff": dev_.falloff(dev[dev.experiment.isin(list(asking(experiments, "falloff")))])}


def hms_lambda(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """HMS's λ against the cutoff and its slopes (:func:`nnqft.analysis.hms.lambda_tables`), and the cutoff integrals
    they divide by (:func:`nnqft.analysis.hms.integral_table`), which the 6-point table reads."""
    integrals = hms.integral_table(experiments, cutoffs)
    lam, slope = hms.lambda_tables(frames["correlators"], experiments, cutoffs)
    return {"hms_lambda": lam, "hms_lambda_slope": slope, "hms_integrals": integrals}


def hms_six_point(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """HMS's 6-point prediction with and without λ (:func:`nnqft.analysis.hms.six_point_tables`)."""
    return {"hms_six_point": hms.six_point_tables(frames, experiments, cutoffs)}


def couplings(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """u_4, u_6 per combination and their means over combinations (:func:`nnqft.analysis.flow.coupling_tables`)."""
    per_combo, means = flow.coupling_tables(frames["correlators"], experiments)
    return {"couplings": per_combo, "coupling_means": means}


def flow_fit(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """The running exponents of |<u_n>| with σ_W (:func:`nnqft.analysis.flow.flow_fit_table`)."""
    return {"flow_fit": flow.flow_fit_table(frames["coupling_means"], experiments)}


def passive_flow(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """The passive flow of (u_4, u_6) (:func:`nnqft.analysis.flow.passive_flow_table`)."""
    return {"passive_flow": flow.passive_flow_table(frames["coupling_means"], experiments)}


def depth_running(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """N G_c^(4)/G^(2)² of the depth scans (:func:`nnqft.analysis.depth.depth_running_table`)."""
    return {"depth_running": depth.depth_running_table(frames["correlators"], experiments)}


def training(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """The trained ensembles against the NTK theory, and the powers of N of their deviations
    (:func:`nnqft.analysis.training.training_table`, :func:`nnqft.analysis.training.training_fit_table`)."""
    table = training_.training_table(frames["trained_correlators"], experiments)
    return {"training": table, "training_fit": training_.training_fit_table(table)}


def outputs(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """Networks of several outputs against their exact theory (:func:`nnqft.analysis.outputs.outputs_table`)."""
    return {"outputs": outputs_.outputs_table(frames["output_correlators"], experiments)}


def outputs_falloff(frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """HMS's falloff per output structure (:func:`nnqft.analysis.outputs.falloff`)."""
    return {"outputs_falloff": outputs_.falloff(frames["outputs"])}


def compute(step: Step, frames: dict, experiments: dict, cutoffs) -> dict[str, pd.DataFrame]:
    """The tables of ``step`` (an entry of :data:`nnqft.analysis.registry.TABLES`) from the tables it reads."""
    return globals()[step.name]({name: frames[name] for name in step.reads}, experiments, cutoffs)
