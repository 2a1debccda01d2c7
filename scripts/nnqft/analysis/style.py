"""The figures' common style: colours of the orders, markers of the activations, tick and panel helpers, and the
Agg backend (figures are drawn in batch jobs, never on a screen). Imported by every module that draws."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Colour of each correlator order.
COLORS = {2: "tab:blue", 4: "tab:orange", 6: "tab:green"}


def plain_log_x(ax):
    """Log x axis with plain tick labels (1, 2, 5, 10, 20) instead of overlapping 2×10^0 minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    lo, hi = ax.get_xlim()
    ticks = [t for t in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def width_ticks(ax, widths):
    """A tick, plainly labelled, at every width of the experiment (a log axis would skip some: 4, 500)."""
    widths = sorted(widths)
    ax.set_xticks(widths)
    ax.set_xticklabels([str(int(w)) for w in widths])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def fit_text(text: str, width_in: float, fontsize: float = 10) -> str:
    """``text`` wrapped at word boundaries into lines that fit ``width_in`` inches at ``fontsize`` points (a glyph is
    about 0.55 of the font size wide), each given line on its own."""
    import textwrap

    chars = max(20, int(width_in * 72 / (0.55 * fontsize)))
    return "\n".join(line for part in text.split("\n") for line in textwrap.wrap(part, chars))


def subtitle(df):
    estimator = df.estimator.iloc[0] if "estimator" in df.columns else "plain"
    nets = f", n_nets = {int(df.n_nets.iloc[0])}" if "n_nets" in df.columns else ""
    return f"σ_b = {df.sigma_b.iloc[0]:g}, n_bags = {int(df.n_bags.iloc[0])}{nets}" + (
        "" if estimator == "plain" else f", {estimator} estimator")


def panels(n: int, width=4.6, height=3.6, layout=None):
    """A figure of ``n`` panels, three to a row (``layout``: matplotlib's, e.g. "constrained"), and its axes."""
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, height * nrow), squeeze=False, layout=layout)
    for k in range(n, nrow * ncol):
        axes[k // ncol, k % ncol].set_visible(False)
    return fig, [axes[k // ncol, k % ncol] for k in range(n)]


def label_panel(ax, title: str, xlabel: str, ylabel: str, legend: bool = True):
    """Title, axis labels and legend of one small panel of a multi-experiment figure."""
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=6, ncol=2 if len(ax.get_legend_handles_labels()[0]) > 4 else 1)


def by_experiment(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df.sort_values(["d_in", "activation", "experiment"]).experiment))


#: Marker of each activation where a figure mixes them.
MARKERS = {"gauss": ("o", "GaussNet"), "relu": ("s", "ReLU"), "erf": ("^", "Erf"), "linear": ("D", "linear")}
