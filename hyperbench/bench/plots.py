"""PNG plots of a report: learning curves per task, interval estimates, performance profiles, P(improvement)
and IQM sample-efficiency curves (interval estimates, profiles and P(improvement) drawn with rliable's helpers).

Every method keeps one colour and line style across the plots (ten colours, then dashed and dotted lines).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hyperbench.bench.metrics import metrics
from hyperbench.bench.stats import ScoreData

__all__ = ["plot_all"]

_LINESTYLES = ("-", "--", ":")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _styles(methods: Sequence[str]) -> dict[str, tuple[Any, str]]:
    cmap = _plt().get_cmap("tab10")
    return {m: (cmap(i % 10), _LINESTYLES[(i // 10) % len(_LINESTYLES)]) for i, m in enumerate(methods)}


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def _legend_right(ax: Any, methods: Sequence[str], styles: Mapping[str, tuple[Any, str]]) -> None:
    plt = _plt()
    handles = [plt.Line2D([0], [0], color=styles[m][0], ls=styles[m][1], lw=2) for m in methods]
    ax.legend(handles, list(methods), loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)


def plot_learning_curves(data: ScoreData, out: Path, styles: Mapping[str, tuple[Any, str]]) -> Path:
    """Mean evaluation return over seeds (band: ± standard error, ddof = 1) against environment steps, one panel per task.

    :param data: score data
    :param out: output directory
    :param styles: method → (colour, line style)
    :return: the PNG path
    """
    plt = _plt()
    tasks = data.tasks
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    shown: list[str] = []
    for k, task in enumerate(tasks):
        ax = axes[k // cols][k % cols]
        for m, ms in data.methods.items():
            if task not in ms.tasks or not ms.seeds:
                continue
            steps, raw = ms.curve_raw[task]
            mean = raw.mean(axis=0)
            se = raw.std(axis=0, ddof=1) / np.sqrt(raw.shape[0]) if raw.shape[0] > 1 else np.zeros_like(mean)
            color, ls = styles[m]
            ax.plot(steps, mean, color=color, ls=ls, lw=1.6)
            ax.fill_between(steps, mean - se, mean + se, color=color, alpha=0.15, lw=0)
            if m not in shown:
                shown.append(m)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation return")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4))
    for k in range(len(tasks), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle("Learning curves (mean over seeds ± standard error, ddof = 1)", fontsize=11)
    fig.tight_layout()
    handles = [plt.Line2D([0], [0], color=styles[m][0], ls=styles[m][1], lw=2) for m in shown]
    fig.legend(handles, shown, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, max(len(shown), 1)), frameon=False)
    return _save(fig, out / "learning_curves.png")


def plot_aggregates(
    plot_data: Mapping[str, Any], out: Path, styles: Mapping[str, tuple[Any, str]], methods: Sequence[str]
) -> Path:
    """rliable interval estimates of the registered metrics drawn in this plot (``Metric.plot``).

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param styles: method → (colour, line style)
    :param methods: methods to show
    :return: the PNG path
    """
    from rliable import plot_utils

    agg = plot_data["aggregates"]
    shown = [metric for metric in metrics(source="final") if metric.plot]
    names = [metric.name for metric in shown]
    points = {m: np.array([agg[m][k][0] for k in names]) for m in methods}
    intervals = {m: np.array([[agg[m][k][1] for k in names], [agg[m][k][2] for k in names]]) for m in methods}
    row_height = max(0.45, 1.8 / len(methods))
    height = row_height * len(methods)
    fig, _axes = plot_utils.plot_interval_estimates(
        points,
        intervals,
        metric_names=[metric.header for metric in shown],
        algorithms=list(methods),
        colors={m: styles[m][0] for m in methods},
        xlabel="Normalised score",
        subfigure_width=3.6,
        row_height=row_height,
        xlabel_y_coordinate=0.11 - 0.75 / height,  # rliable leaves matplotlib's bottom margin (0.11) in place
    )
    fig.suptitle("Aggregate normalised final scores (95% stratified-bootstrap CIs)", y=0.88 + 0.55 / height, fontsize=12)
    return _save(fig, out / "aggregates.png")


def plot_profiles(
    plot_data: Mapping[str, Any], out: Path, styles: Mapping[str, tuple[Any, str]], methods: Sequence[str]
) -> Path:
    """rliable performance profiles (score distributions) with CIs.

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param styles: method → (colour, line style)
    :param methods: methods to show
    :return: the PNG path
    """
    from rliable import plot_utils

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        {m: plot_data["profiles"][m][0] for m in methods},
        plot_data["taus"],
        performance_profile_cis={m: plot_data["profiles"][m][1] for m in methods},
        colors={m: styles[m][0] for m in methods},
        linestyles={m: styles[m][1] for m in methods},
        xlabel=r"Normalised score ($\tau$)",
        ax=ax,
        labelsize="large",
        ticklabelsize="medium",
    )
    _legend_right(ax, methods, styles)
    ax.set_title("Performance profiles (95% CIs)", fontsize=11)
    return _save(fig, out / "profiles.png")


def plot_improvement(plot_data: Mapping[str, Any], out: Path) -> Path | None:
    """rliable probability of improvement of every method over its baseline.

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :return: the PNG path, or ``None`` when there is nothing to compare
    """
    from rliable import plot_utils

    poi = plot_data["poi"]
    if not poi:
        return None
    vs = plot_data["compared_with"]
    pairs = {f"{m},{vs[m]}": np.array([v[0]]) for m, v in poi.items()}
    cis = {f"{m},{vs[m]}": np.array([[v[1]], [v[2]]]) for m, v in poi.items()}
    ax = plot_utils.plot_probability_of_improvement(
        pairs, cis, figsize=(6, 0.55 * len(pairs) + 1.4), xticks=[0, 0.25, 0.5, 0.75, 1]
    )
    ax.set_xlim(0, 1)
    ax.axvline(0.5, color="grey", lw=1, ls="--")
    ax.set_title("Probability of improvement over the baseline (95% CIs)", fontsize=11, pad=24)
    return _save(ax.get_figure(), out / "probability_of_improvement.png")


def plot_sample_efficiency(
    plot_data: Mapping[str, Any], out: Path, styles: Mapping[str, tuple[Any, str]], methods: Sequence[str]
) -> Path:
    """IQM sample-efficiency curves: IQM of normalised scores at each evaluation point, with 95% CIs.

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param styles: method → (colour, line style)
    :param methods: methods to show (sharing one x-axis unit)
    :return: the PNG path
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    unit = plot_data["efficiency_unit"][methods[0]]
    for m in methods:
        x = plot_data["efficiency_x"][m]
        iqm, ci = plot_data["efficiency"][m]
        color, ls = styles[m]
        ax.plot(x, iqm, color=color, ls=ls, marker="o", ms=3, lw=1.8)
        ax.fill_between(x, ci[0], ci[1], color=color, alpha=0.15, lw=0)
    ax.set_xlabel("environment steps" if unit == "steps" else unit)
    ax.set_ylabel("IQM normalised score")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    _legend_right(ax, methods, styles)
    ax.set_title("IQM sample efficiency (95% stratified-bootstrap CIs)", fontsize=11)
    return _save(fig, out / "sample_efficiency.png")


def plot_all(data: ScoreData, plot_data: Mapping[str, Any], out: Path, baseline: str) -> dict[str, Path]:
    """Draw every plot of a report.

    :param data: score data
    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param baseline: the suite's baseline label (listed first where order matters)
    :return: plot name → PNG path
    """
    out.mkdir(parents=True, exist_ok=True)
    methods = list(data.methods)
    styles = _styles(methods)
    usable = [m for m in methods if m in plot_data["aggregates"]]
    paths: dict[str, Path] = {"learning_curves": plot_learning_curves(data, out, styles)}
    if usable:
        if any(metric.plot for metric in metrics(source="final")):
            paths["aggregates"] = plot_aggregates(plot_data, out, styles, usable)
        paths["profiles"] = plot_profiles(plot_data, out, styles, usable)
        same_unit = [m for m in usable if plot_data["efficiency_unit"][m] == plot_data["efficiency_unit"][usable[0]]]
        paths["sample_efficiency"] = plot_sample_efficiency(plot_data, out, styles, same_unit)
    improvement = plot_improvement(plot_data, out)
    if improvement is not None:
        paths["probability_of_improvement"] = improvement
    return paths
