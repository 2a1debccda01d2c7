"""The Snakemake report: built without a single docutils message, its landing text describing the run's own
config, and, rendered in a real headless browser (Debian's chromium, installed by tests/browser/install_chromium.sh
the way the SLURM test installs its packages), every figure and its caption on screen."""
import io
import json
import re
import subprocess
from pathlib import Path

import docutils.core
import docutils.utils
import jinja2
import pytest

from helpers import QUICK, ROOT, overflowing, overflowing_figures, run_snakemake
from nnqft.analysis import registry
from nnqft.workflow import design

pytestmark = pytest.mark.workflow

REPORT = ROOT / "workflow" / "report"


def docutils_messages(text: str) -> list[str]:
    """Every message docutils emits on ``text`` (info and up), as strings."""
    stream = io.StringIO()
    settings = {"report_level": docutils.utils.Reporter.INFO_LEVEL, "halt_level": 5, "warning_stream": stream}
    docutils.core.publish_parts(text, writer="html", settings_overrides=settings)
    return [line for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("caption", sorted(p.name for p in REPORT.glob("*.rst")))
def test_every_caption_is_clean_restructured_text(caption):
    """A |x| in a caption is a substitution reference to reStructuredText: "Undefined substitution referenced" and an
    ERROR box in the report. Rendered through Jinja first, as Snakemake does."""
    text = jinja2.Template((REPORT / caption).read_text()).render(snakemake=type("S", (), {"config": {
        **QUICK, "experiments": {**QUICK["experiments"], "relu": {"activation": "relu", "sigma_b": 1.0,
                                                                   "sigma_w": [1.0], "N": [2], "n_bags": 2}}},
        "wildcards": {"experiment": "width_scan"}}))
    assert docutils_messages(text) == []


def test_the_check_fails_on_an_unescaped_bar():
    assert docutils_messages("the mean ⟨|m_n|⟩ of |x|") != []


@pytest.fixture(scope="module")
def report(quick_run):
    result = run_snakemake(quick_run, QUICK, "--report", "results/report.html")
    assert result.returncode == 0, result.stdout + result.stderr
    return quick_run / "results" / "report.html", result.stdout + result.stderr


def test_the_report_builds_without_docutils_messages_and_describes_its_config(report):
    path, log = report
    assert not re.search(r"\((INFO|WARNING|ERROR|SEVERE)/\d\)", log), log
    html = path.read_text(errors="replace")
    assert "System Message" not in html
    for name in QUICK["experiments"]:
        assert f"{name}</code>" in html or f"<tt>{name}" in html or name in html


# After the app has loaded, show every result's info panel in turn and record what is on screen.
PROBE = """<script>
window.addEventListener('load', () => {
  const paths = Object.keys(results), seen = [];
  let i = 0;
  function step() {
    if (i > 0) {
      const imgs = [...document.querySelectorAll('img')].map(im => im.naturalWidth);
      seen.push({path: paths[i - 1], text: document.body.innerText, images: imgs});
    }
    if (i === paths.length) {
      const pre = document.createElement('pre');
      pre.id = 'nnqft-probe';
      pre.textContent = JSON.stringify({landing: landing, seen: seen});
      document.body.appendChild(pre);
      return;
    }
    const entry = results[paths[i]];
    const view = {navbarMode: 'resultinfo', resultPath: paths[i]};  // one setView: its state updates are batched
    if (entry.mime_type && entry.mime_type.startsWith('image/')) {
      Object.assign(view, {content: 'img', contentPath: entry.data_uri});
    }
    app.setView(view);
    i += 1;
    setTimeout(step, 300);
  }
  let landing = '';
  setTimeout(() => { landing = document.body.innerText; step(); }, 1000);
});
</script>"""


@pytest.fixture(scope="module")
def rendered(report, tmp_path_factory):
    install = subprocess.run(["bash", str(ROOT / "tests" / "browser" / "install_chromium.sh")], capture_output=True,
                             text=True, timeout=900)
    assert install.returncode == 0, install.stdout + install.stderr
    probe = tmp_path_factory.mktemp("browser") / "report.html"
    page = report[0].read_text(errors="replace")
    end = page.rindex("</body>")  # the last one: scripts in the page spell "</body>" in strings too
    probe.write_text(page[:end] + PROBE + page[end:])
    result = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                             "--virtual-time-budget=120000", probe.as_uri()], capture_output=True, text=True,
                            timeout=300)
    found = re.search(r'<pre id="nnqft-probe">(\{.*?)</pre>', result.stdout, flags=re.S)
    assert found, result.stderr[-2000:]
    import html
    return json.loads(html.unescape(found.group(1)))


def _words(rst: str) -> str:
    """The first plain words of a caption, as the browser shows them (no markup)."""
    first = re.sub(r"\s+", " ", rst.split("\n\n")[0]).strip()
    return re.sub(r"[`*\\]", "", first)[:40]


def test_every_figure_and_its_caption_appear_in_a_browser(rendered):
    landing = rendered["landing"]
    assert "System Message" not in landing
    assert "Halverson, Maiti and Stoner" in landing and all(name in landing for name in QUICK["experiments"])
    shown = {s["path"].split("results/figures/")[-1]: s for s in rendered["seen"]}
    for path in registry.figure_paths(design.experiments(QUICK), QUICK["orders"]):
        seen = shown[f"{path}.png"]
        name = Path(path).name
        experiment = path.split("/")[0] if "/" in path else None
        caption = jinja2.Template((REPORT / f"{name}.rst").read_text()).render(snakemake=type("S", (), {
            "config": QUICK, "wildcards": {"experiment": experiment}}))
        assert _words(caption) in re.sub(r"\s+", " ", seen["text"]), (path, seen["text"][:500])
        assert any(w > 100 for w in seen["images"]), (path, seen["images"])  # the PNG itself, decoded
        assert "System Message" not in seen["text"]
        if "/" in path:  # a figure of one experiment: its caption names it
            assert f"Experiment {path.split('/')[0]}" in seen["text"], (path, seen["text"][:500])
    claims = next(s for p, s in shown.items() if p.endswith("claims.md"))
    assert "agreement" in claims["text"]


def test_no_title_label_or_legend_of_a_figure_falls_outside_its_canvas(quick_run):
    """Every figure of the quick run, checked on matplotlib's own layout (each workflow module checks its own run)."""
    assert overflowing_figures("quick", quick_run) == {}


def test_the_canvas_check_sees_a_title_cut_at_both_ends():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    title = "a title far too long for a figure four inches wide, cut off at both of its ends by the canvas"
    fig.suptitle(title)
    ax.set_xlabel("fits")
    fig.tight_layout()
    assert overflowing(fig) == [f"suptitle: {title[:60]}"]
    fig.suptitle("short")
    assert overflowing(fig) == []
    plt.close(fig)


def test_the_figures_say_what_a_new_user_looks_for(quick_run):
    """From the quick run's tables: the falloff panels name σ_b, the bags and the networks, tick every width, keep
    their legend off the curves (below the panels) and draw a 1/N guide; the validation figure ticks the ±2 band and
    keeps every point inside; the histograms count in integers; the exponent figure has no legend entry for a
    width it draws no point for."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from nnqft.analysis import figures

    tables = quick_run / "results" / "tables"
    fall = pd.read_parquet(tables / "hms_falloff.parquet")
    fig = figures.falloff(fall)
    ax = fig.axes[0]
    assert "σ_b = 1" in ax.get_title() and "bags" in ax.get_title() and "networks" in ax.get_title()
    assert list(ax.get_xticks()) == sorted(fall.N.unique()) and ax.get_legend() is None and fig.legends
    assert "1/N" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
    dev = pd.read_parquet(tables / "deviations.parquet")
    fig = figures.validation(dev)
    for ax in fig.axes[:3]:
        ticks = ax.get_yticks()
        assert 2 in ticks and -2 in ticks
        z = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
        low, high = ax.get_ylim()
        assert low <= z.min() and z.max() <= high
    plt.close(fig)
    one = dev[dev.sigma_w == 1.0]
    fig = figures.validation(one)
    assert len(fig.axes) == len(set(one.order))  # one σ_W: no colour bar
    plt.close(fig)
    fig = figures.histograms(dev, "width_scan")
    assert all(float(t).is_integer() for ax in fig.axes if ax.get_visible() for t in ax.get_yticks())
    plt.close(fig)
    fit = pd.read_parquet(tables / "flow_fit.parquet")
    fit.loc[fit.N == fit.N.min(), "exponent"] = np.nan  # a width below noise at every d_in
    fig = figures.exponent_vs_d_in(fit)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"measured, N = {fit.N.min()}" not in labels and f"measured, N = {fit.N.max()}" in labels
    plt.close(fig)
