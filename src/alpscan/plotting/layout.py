"""Referee checks of a rendered figure: text inside the canvas, nothing overlapping, legends on
empty space.

:func:`layout_problems` draws a figure with its own renderer and measures the display-space
extents (pixels) of its artists.  It reports, as readable strings:

* axes squashed below ``min_axes_px`` (e.g. by long rotated tick labels);
* any text (tick labels, axis labels, titles, free texts, legends) outside the canvas;
* axes without an x or y label;
* text boxes that overlap each other (a title on the experiment label, two legends);
* the tick labels or axis labels of one axes reaching into another axes' area;
* legends outside their axes, and legends covering plotted data: points and line
  segments of ``Line2D`` and ``LineCollection`` (error bars), scatter offsets, and filled
  areas (histograms, bands) sampled on a grid inside the legend box.

Artists with gid ``"veto"`` or ``"decoration"`` (veto bands, reference lines) are not data;
a legend may sit on them.  The checks use matplotlib's public extents API
(``Artist.get_window_extent``, ``Axes.get_tightbbox``) and never save the figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["layout_problems", "NOT_DATA_GIDS"]

#: gids of artists that are not data (a legend may cover them).
NOT_DATA_GIDS = ("veto", "decoration")
#: Tolerance in pixels for "inside" and "overlap" decisions.
TOL_PX = 1.0


def _shrunk(box: Bbox, px: float = TOL_PX) -> Bbox:
    return Bbox.from_extents(box.x0 + px, box.y0 + px, box.x1 - px, box.y1 - px)


def _inside(inner: Bbox, outer: Bbox, px: float = TOL_PX) -> bool:
    return (inner.x0 >= outer.x0 - px and inner.y0 >= outer.y0 - px
            and inner.x1 <= outer.x1 + px and inner.y1 <= outer.y1 + px)


def _overlap(a: Bbox, b: Bbox, px: float = TOL_PX) -> bool:
    return a.width > 0 and b.width > 0 and _shrunk(a, px).overlaps(_shrunk(b, px))


def _texts(ax) -> list[tuple[str, Text]]:
    """Visible, non-empty free texts and titles of ``ax`` with a description."""
    out = []
    for t in [ax.title, ax._left_title, ax._right_title, *ax.texts]:  # noqa: SLF001
        if t.get_visible() and t.get_text().strip():
            out.append((f"text {t.get_text()!r}", t))
    return out


def _axis_labels(ax) -> list[tuple[str, Text]]:
    return [(f"{name}-label {t.get_text()!r}", t)
            for name, t in (("x", ax.xaxis.label), ("y", ax.yaxis.label))
            if t.get_visible() and t.get_text().strip()]


def _densify(xy: np.ndarray, box: Bbox, step_px: float = 2.0) -> np.ndarray:
    """Points along the polyline ``xy`` (display coordinates) at most ``step_px`` apart;
    NaN vertices break the line.  Only segments with both ends inside ``box`` (the axes
    area) are sampled: the others are clipped at the axes edge when drawn."""
    finite = np.all(np.isfinite(xy), axis=1)
    inside = finite & (xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)
    out = [xy[finite]]
    for k in np.flatnonzero(inside[:-1] & inside[1:]):
        a, b = xy[k], xy[k + 1]
        n = int(np.hypot(*(b - a)) // step_px)
        if n > 1:
            t = np.linspace(0.0, 1.0, n + 1)[1:-1, None]
            out.append(a + t * (b - a))
    return np.concatenate(out) if out else np.empty((0, 2))


def _is_data(artist) -> bool:
    return artist.get_visible() and artist.get_gid() not in NOT_DATA_GIDS


def _line_points(ax) -> np.ndarray:
    """Display coordinates of the data drawn as lines, markers, error bars and scatter."""
    box = ax.get_window_extent()
    pts = []
    for line in ax.get_lines():
        if not _is_data(line) or not isinstance(line, Line2D):
            continue
        xy = np.ma.filled(np.ma.column_stack([np.ma.asarray(line.get_xdata(), dtype=float),
                                              np.ma.asarray(line.get_ydata(), dtype=float)]),
                          np.nan)
        if xy.size == 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            disp = line.get_transform().transform(xy)
        pts.append(disp[np.all(np.isfinite(disp), axis=1)] if line.get_linestyle() in ("None", "none", "", " ")
                   else _densify(disp, box))
    for coll in ax.collections:
        if not _is_data(coll):
            continue
        if isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                seg = np.asarray(seg, dtype=float)
                if seg.size:
                    pts.append(_densify(coll.get_transform().transform(seg), box))
        elif isinstance(coll, PathCollection) and not isinstance(coll, PolyCollection):
            offsets = np.ma.filled(np.ma.asarray(coll.get_offsets(), dtype=float), np.nan)
            if offsets.size:
                disp = coll.get_offset_transform().transform(offsets)
                pts.append(disp[np.all(np.isfinite(disp), axis=1)])
    for patch in ax.patches:
        if _is_data(patch) and not patch.get_fill():
            disp = patch.get_transform().transform_path(patch.get_path())
            for poly in disp.to_polygons(closed_only=False):
                pts.append(_densify(np.asarray(poly, dtype=float), box))
    if not pts:
        return np.empty((0, 2))
    pts = np.concatenate(pts)
    keep = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0)
            & (pts[:, 1] <= box.y1))
    return pts[keep]


def _filled_paths(ax) -> list:
    """Display-space paths of filled data areas (histogram fills, bands)."""
    paths = []
    for patch in ax.patches:
        if _is_data(patch) and patch.get_fill() and isinstance(patch, Patch):
            paths.append(patch.get_transform().transform_path(patch.get_path()))
    for coll in ax.collections:
        if _is_data(coll) and isinstance(coll, PolyCollection):
            tr = coll.get_transform()
            paths.extend(tr.transform_path(p) for p in coll.get_paths())
    return paths


def _legend_covers(legend: Legend, ax, renderer) -> int:
    """Number of data points, line samples or filled-area samples inside ``legend``'s box."""
    box = _shrunk(legend.get_window_extent(renderer), 2.0)
    if box.width <= 0 or box.height <= 0:
        return 0
    pts = _line_points(ax)
    n = int(np.sum((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                   & (pts[:, 1] < box.y1)))
    gx, gy = np.meshgrid(np.linspace(box.x0, box.x1, 9), np.linspace(box.y0, box.y1, 9))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    for path in _filled_paths(ax):
        n += int(np.sum(path.contains_points(grid)))
    return n


def layout_problems(fig, *, min_axes_px: float = 60.0, require_labels: bool = True) -> list[str]:
    """Layout defects of ``fig`` as it would be saved (``fig.savefig`` without ``bbox_inches``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    min_axes_px : float
        Smallest acceptable width and height of a visible axes, in pixels at the figure dpi.
    require_labels : bool
        Report visible axes without x or y label.

    Returns
    -------
    list of str
        One sentence per defect, naming the axes (its index and labels) and the artist;
        empty for a figure a referee accepts.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    problems: list[str] = []
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    boxes: list[tuple[str, Bbox]] = []  # text-like boxes that must not overlap each other
    exp_parts: set[str] = set()
    for i, ax in enumerate(axes):
        name = f"axes {i} ({ax.get_ylabel() or ax.get_title() or 'unlabelled'})"
        area = ax.get_window_extent(renderer)
        if area.width < min_axes_px or area.height < min_axes_px:
            problems.append(f"{name}: squashed to {area.width:.0f} x {area.height:.0f} px")
        if require_labels:
            if not ax.get_xlabel().strip():
                problems.append(f"{name}: no x label")
            shared = [o for o in ax.get_shared_y_axes().get_siblings(ax) if o is not ax]
            if not ax.get_ylabel().strip() and not any(o.get_ylabel().strip() for o in shared):
                problems.append(f"{name}: no y label")
        for what, axis in (("x tick labels", ax.xaxis), ("y tick labels", ax.yaxis)):
            tb = axis.get_tightbbox(renderer)
            if tb is None:
                continue
            if not _inside(tb, canvas):
                problems.append(f"{name}: {what} or axis label outside the canvas")
            for j, other in enumerate(axes):
                if other is not ax and _overlap(tb, other.get_window_extent(renderer)):
                    problems.append(f"{name}: {what} or axis label reach into axes {j}")
        for what, t in _texts(ax) + _axis_labels(ax):
            tb = t.get_window_extent(renderer)
            if not _inside(tb, canvas):
                problems.append(f"{name}: {what} outside the canvas")
            if (what, t) in _texts(ax):
                boxes.append((f"{name}: {what}", tb))
                if type(t).__module__.startswith("mplhep"):
                    exp_parts.add(f"{name}: {what}")
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            lb = legend.get_window_extent(renderer)
            boxes.append((f"{name}: legend", lb))
            if not _inside(lb, area):
                problems.append(f"{name}: legend outside its axes")
            if not _inside(lb, canvas):
                problems.append(f"{name}: legend outside the canvas")
            n = _legend_covers(legend, ax, renderer)
            if n:
                problems.append(f"{name}: legend covers data ({n} samples)")
    for legend in fig.legends:
        if legend.get_visible():
            lb = legend.get_window_extent(renderer)
            boxes.append(("figure legend", lb))
            if not _inside(lb, canvas):
                problems.append("figure legend outside the canvas")
            for i, ax in enumerate(axes):
                if _overlap(lb, ax.get_tightbbox(renderer)):
                    problems.append(f"figure legend overlaps axes {i} or its labels")
    for t in fig.texts:
        if t.get_visible() and t.get_text().strip():
            tb = t.get_window_extent(renderer)
            boxes.append((f"figure text {t.get_text()!r}", tb))
            if not _inside(tb, canvas):
                problems.append(f"figure text {t.get_text()!r} outside the canvas")
    for k, (a_name, a) in enumerate(boxes):
        for b_name, b in boxes[k + 1:]:
            if a_name in exp_parts and b_name in exp_parts:
                continue  # mplhep's label pieces ("alpscan", "toy") abut by design
            if _overlap(a, b):
                problems.append(f"overlap: [{a_name}] and [{b_name}]")
    return problems
