"""Figure of the fidelity targets: the toy's value, the paper's value and the accepted
interval of every target, one panel per group of targets (README "Fidelity")."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from alpscan.plotting.style import save  # noqa: E402

#: x-axis label and display factor of each target group
GROUP_AXES = {
    "sigma_R": (r"$\sigma_R$ of $M_{\gamma\gamma}$ after the kinematic fit [MeV]", 1.0),
    "final efficiency": ("median final signal efficiency [%]", 100.0),
    "candidates": ("fraction of signal events [%]", 100.0),
    "single cut": ("single-cut efficiency or rejection, mean over modes [%]", 100.0),
}


def accepted_interval(t: dict) -> tuple[float, float]:
    """The interval of values that pass target ``t`` (see :mod:`alpscan.validation.targets`)."""
    if "accepted" in t:
        return tuple(t["accepted"])
    p, tol = t["paper"], t["tolerance"]
    return (p * (1 - tol), p * (1 + tol)) if t["relative"] else (p - tol, p + tol)


def plot_targets(targets: list[dict], path, before: list[float] | None = None) -> None:
    """Every target in ``targets``: accepted interval (grey), paper (black), toy value
    (filled: green pass, red fail); ``before`` adds the values before a tune (open)."""
    plt.style.use(mplhep.style.ROOT)
    groups = [g for g in GROUP_AXES if any(t["group"] == g for t in targets)]
    sizes = [sum(t["group"] == g for t in targets) for g in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 1.6 * len(groups) + 0.55 * sum(sizes)),
                             gridspec_kw={"height_ratios": [s + 1.2 for s in sizes]}, squeeze=False)
    for ax, group in zip(axes[:, 0], groups):
        idx = [i for i, t in enumerate(targets) if t["group"] == group]
        label, f = GROUP_AXES[group]
        for y, i in enumerate(idx):
            t = targets[i]
            lo, hi = accepted_interval(t)
            if group in ("single cut", "candidates"):  # fractions
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            ax.barh(y, f * (hi - lo), left=f * lo, height=0.6, color="0.85",
                    label="accepted" if y == 0 else None)
            paper = t["paper"] if isinstance(t["paper"], list) else [t["paper"], t["paper"]]
            if paper[0] == paper[1]:
                ax.plot([f * paper[0]] * 2, [y - 0.3, y + 0.3], "k-", lw=2, label="paper" if y == 0 else None)
            else:
                ax.plot([f * paper[0], f * paper[1]], [y, y], "k-", lw=3, label="paper" if y == 0 else None)
            if before is not None:
                ax.plot(f * before[i], y, "o", mfc="none", mec="tab:gray", ms=10, mew=2,
                        label="before tune" if y == 0 else None)
            ax.plot(f * t["value"], y, "s", color="tab:green" if t["pass"] else "tab:red", ms=9)
        ax.plot([], [], "s", color="tab:green", label="toy, pass")
        ax.plot([], [], "s", color="tab:red", label="toy, fail")
        ax.set_yticks(range(len(idx)), [targets[i]["name"] for i in idx], fontsize=12)
        ax.set_ylim(-0.7, len(idx) - 0.3)
        ax.invert_yaxis()
        ax.set_xlabel(label, fontsize=14)
        ax.tick_params(axis="x", labelsize=12)
        if group in ("single cut", "candidates"):
            ax.set_xlim(-3, 103)
        else:
            values = np.array([f * targets[i]["value"] for i in idx]
                              + [f * x for i in idx for x in accepted_interval(targets[i])]
                              + ([f * before[i] for i in idx] if before is not None else []))
            values = values[np.isfinite(values)]
            span = np.ptp(values) if values.size else 1.0
            ax.set_xlim(max(values.min() - 0.08 * span, 0.0), values.max() + 0.08 * span)
        ax.legend(fontsize=11, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save(fig, path, bbox_inches="tight")
