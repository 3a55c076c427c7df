"""PNG plots of a report: learning curves per task, interval estimates, performance profiles, P(improvement)
and IQM sample-efficiency curves (the last four drawn with rliable's plotting helpers)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hyperbench.bench.stats import METRIC_NAMES, ScoreData

__all__ = ["plot_all"]

_METRIC_LABELS = {"median": "Median", "iqm": "IQM", "mean": "Mean", "optimality_gap": "Optimality Gap"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(methods: Sequence[str]) -> dict[str, Any]:
    plt = _plt()
    cmap = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    return {m: cmap(i % cmap.N) for i, m in enumerate(methods)}


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def plot_learning_curves(data: ScoreData, out: Path, colors: Mapping[str, Any]) -> Path:
    """Mean evaluation return over seeds (band: ± standard error) against environment steps, one panel per task.

    :param data: score data
    :param out: output directory
    :param colors: method → colour
    :return: the PNG path
    """
    plt = _plt()
    tasks = data.tasks
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for k, task in enumerate(tasks):
        ax = axes[k // cols][k % cols]
        for m, ms in data.methods.items():
            if task not in ms.tasks or not ms.seeds:
                continue
            steps, raw = ms.curve_raw[task]
            mean = raw.mean(axis=0)
            se = raw.std(axis=0, ddof=1) / np.sqrt(raw.shape[0]) if raw.shape[0] > 1 else np.zeros_like(mean)
            ax.plot(steps, mean, label=f"{m} (n={raw.shape[0]})", color=colors[m], lw=1.6)
            ax.fill_between(steps, mean - se, mean + se, color=colors[m], alpha=0.18, lw=0)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation return")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4))
    for k in range(len(tasks), rows * cols):
        axes[k // cols][k % cols].axis("off")
    handles: list[Any] = []
    labels: list[str] = []
    for ax in axes.flat:
        h, lab = ax.get_legend_handles_labels()
        for hh, ll in zip(h, lab):
            name = ll.split(" (n=")[0]
            if name not in [x.split(" (n=")[0] for x in labels]:
                handles.append(hh)
                labels.append(ll)
    fig.legend(
        handles,
        [lab.split(" (n=")[0] for lab in labels],
        loc="lower center",
        ncol=min(4, len(labels)),
        bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(labels) / 4)),
        frameon=False,
    )
    fig.suptitle("Learning curves (mean over seeds ± standard error)", fontsize=11)
    fig.tight_layout()
    return _save(fig, out / "learning_curves.png")


def plot_aggregates(plot_data: Mapping[str, Any], out: Path, colors: Mapping[str, Any], methods: Sequence[str]) -> Path:
    """rliable interval estimates of median, IQM, mean and optimality gap.

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param colors: method → colour
    :param methods: methods to show
    :return: the PNG path
    """
    from rliable import plot_utils

    agg = plot_data["aggregates"]
    points = {m: np.array([agg[m][k][0] for k in METRIC_NAMES]) for m in methods}
    intervals = {m: np.array([[agg[m][k][1] for k in METRIC_NAMES], [agg[m][k][2] for k in METRIC_NAMES]]) for m in methods}
    row_height = max(0.45, 1.8 / len(methods))
    height = row_height * len(methods)
    fig, _axes = plot_utils.plot_interval_estimates(
        points,
        intervals,
        metric_names=[_METRIC_LABELS[k] for k in METRIC_NAMES],
        algorithms=list(methods),
        colors=dict(colors),
        xlabel="Normalised score",
        subfigure_width=3.6,
        row_height=row_height,
        xlabel_y_coordinate=-0.5 / height,
    )
    fig.suptitle("Aggregate normalised final scores (95% stratified-bootstrap CIs)", y=1 + 0.55 / height, fontsize=12)
    return _save(fig, out / "aggregates.png")


def plot_profiles(plot_data: Mapping[str, Any], out: Path, colors: Mapping[str, Any], methods: Sequence[str]) -> Path:
    """rliable performance profiles (score distributions) with CIs.

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param colors: method → colour
    :param methods: methods to show
    :return: the PNG path
    """
    from rliable import plot_utils

    plt = _plt()
    profiles = {m: plot_data["profiles"][m][0] for m in methods}
    cis = {m: plot_data["profiles"][m][1] for m in methods}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        profiles,
        plot_data["taus"],
        performance_profile_cis=cis,
        colors=dict(colors),
        xlabel=r"Normalised score ($\tau$)",
        ax=ax,
        labelsize="large",
        ticklabelsize="medium",
    )
    ax.legend([plt.Line2D([0], [0], color=colors[m], lw=2) for m in methods], list(methods), loc="upper right", fontsize=8)
    ax.set_title("Performance profiles (95% CIs)", fontsize=11)
    return _save(fig, out / "profiles.png")


def plot_improvement(plot_data: Mapping[str, Any], out: Path, baseline: str) -> Path | None:
    """rliable probability of improvement of every method over the baseline.

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param baseline: baseline label
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
    fig = ax.get_figure()
    ax.set_title("Probability of improvement over the baseline (95% CIs)", fontsize=11, pad=24)
    return _save(fig, out / "probability_of_improvement.png")


def plot_sample_efficiency(plot_data: Mapping[str, Any], out: Path, colors: Mapping[str, Any], methods: Sequence[str]) -> Path:
    """rliable IQM sample-efficiency curves (IQM of normalised scores at each evaluation point).

    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param colors: method → colour
    :param methods: methods to show (sharing one x-axis unit)
    :return: the PNG path
    """
    from rliable import plot_utils

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    unit = plot_data["efficiency_unit"][methods[0]]
    for m in methods:
        x = plot_data["efficiency_x"][m]
        iqm, ci = plot_data["efficiency"][m]
        plot_utils.plot_sample_efficiency_curve(
            x,
            {m: iqm},
            {m: ci},
            algorithms=[m],
            colors={m: colors[m]},
            xlabel=f"environment {unit}" if unit == "steps" else unit,
            ylabel="IQM normalised score",
            ax=ax,
            labelsize="large",
            ticklabelsize="medium",
        )
    ax.legend([plt.Line2D([0], [0], color=colors[m], lw=2) for m in methods], list(methods), loc="best", fontsize=8)
    ax.set_title("IQM sample efficiency (95% CIs)", fontsize=11)
    return _save(fig, out / "sample_efficiency.png")


def plot_all(data: ScoreData, plot_data: Mapping[str, Any], out: Path, baseline: str) -> dict[str, Path]:
    """Draw every plot of a report.

    :param data: score data
    :param plot_data: from :func:`hyperbench.bench.stats.build_scores`
    :param out: output directory
    :param baseline: baseline label
    :return: plot name → PNG path
    """
    out.mkdir(parents=True, exist_ok=True)
    methods = list(data.methods)
    colors = _colors(methods)
    usable = [m for m in methods if m in plot_data["aggregates"]]
    paths: dict[str, Path] = {"learning_curves": plot_learning_curves(data, out, colors)}
    if usable:
        paths["aggregates"] = plot_aggregates(plot_data, out, colors, usable)
        paths["profiles"] = plot_profiles(plot_data, out, colors, usable)
        same_unit = [m for m in usable if plot_data["efficiency_unit"][m] == plot_data["efficiency_unit"][usable[0]]]
        paths["sample_efficiency"] = plot_sample_efficiency(plot_data, out, colors, same_unit)
    improvement = plot_improvement(plot_data, out, baseline)
    if improvement is not None:
        paths["probability_of_improvement"] = improvement
    return paths
