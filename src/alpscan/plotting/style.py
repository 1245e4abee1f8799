"""Common figure style (mplhep) and reproducible saving (no timestamps in files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402


def use_style() -> None:
    """The mplhep ROOT style (frozen name) used by every alpscan figure."""
    mplhep.style.use("ROOT")


#: Decay labels of the analysis modes.
MODE_LABELS = {
    "Kp": r"$B^+\to K^+a$",
    "K0S": r"$B^0\to K^0_S\,a$",
    "Kst0": r"$B^0\to K^{*0}a$",
    "Kstp": r"$B^+\to K^{*+}a$",
}


def mode_label(mode: str) -> str:
    """The decay label of an analysis mode (:data:`MODE_LABELS`), the mode name if it has
    none."""
    return MODE_LABELS.get(mode, mode)


def mode_panels(modes, width: float = 4.8, height: float = 5.0):
    """The alpscan style and a figure with one row of panels, one per mode.

    Returns ``(fig, axes)`` with ``axes`` the 1-D array of panels (``width`` × ``height``
    inches each).
    """
    use_style()
    fig, axes = plt.subplots(1, len(modes), figsize=(width * len(modes), height), squeeze=False)
    return fig, axes[0]


def label(ax, text: str = "alpscan toy simulation") -> None:
    """Top-left experiment-style label naming the toy (never "Belle")."""
    ax.text(0.0, 1.01, text, transform=ax.transAxes, ha="left", va="bottom", fontsize="small", style="italic")


def save(fig, path: str | Path, bbox_inches: str | None = None) -> None:
    """Save ``fig`` as PNG at ``path`` and as PDF next to it, without timestamps
    (``bbox_inches="tight"`` for figures with legends outside the axes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None}, bbox_inches=bbox_inches)
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None, "ModDate": None, "Producer": None},
                bbox_inches=bbox_inches)
    plt.close(fig)


def experiment_label(fig, text: str = "toy simulation") -> None:
    """Experiment-style label (bold ``alpscan``, italic ``text``) in the top-left corner of
    ``fig``, for multi-panel figures whose panels carry their own titles; call
    :func:`tight_layout_below_label` afterwards so that no panel reaches into it."""
    t = fig.text(0.005, 0.995, "alpscan", ha="left", va="top", fontweight="bold")
    fig.canvas.draw()
    box = t.get_window_extent(fig.canvas.get_renderer()).transformed(fig.transFigure.inverted())
    fig.text(box.x1 + 0.005, 0.995, text, ha="left", va="top", style="italic")


def tight_layout_below_label(fig, legend_rows: int = 0) -> None:
    """``tight_layout`` leaving a strip at the top for :func:`experiment_label` and
    ``legend_rows`` rows of a figure legend (0.32 in each, at the figure's size)."""
    height_in = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - (0.45 + 0.32 * legend_rows) / height_in))


def save_panels(fig, path: str | Path, legend_rows: int = 0) -> None:
    """Finish a multi-panel figure: the experiment label, the panels laid out below it
    (:func:`tight_layout_below_label`), saved with :func:`save`."""
    experiment_label(fig)
    tight_layout_below_label(fig, legend_rows=legend_rows)
    save(fig, path)
