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


def label(ax, text: str = "alpscan toy simulation") -> None:
    """Top-left experiment-style label naming the toy (never "Belle")."""
    ax.text(0.0, 1.01, text, transform=ax.transAxes, ha="left", va="bottom", fontsize="small", style="italic")


def save(fig, path: str | Path) -> None:
    """Save ``fig`` as PNG at ``path`` and as PDF next to it, without timestamps."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None, "ModDate": None, "Producer": None})
    plt.close(fig)
