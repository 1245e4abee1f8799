"""Signal injection and coverage of the window-fit CLs limits (spec §9, validation).

Pseudo-datasets are drawn from a window model (signal DSCB + 2nd-order polynomial, the
scan's model), fitted with the batched fitter, and their profile likelihoods turned into
asymptotic CLs limits with :func:`alpscan.stats.limits.yield_limits`, exactly as the
``limits_mode`` rule does for the pseudo-data.  Injecting a signal at the expected-limit
strength must be recovered without bias, and the 90 % CL upper limits must cover the
injected yield in at least 90 % of the datasets (CLs is conservative by construction).
"""

from __future__ import annotations

import numpy as np
import pytest

from alpscan.fitting.batched import fit_batch
from alpscan.fitting.toys import asimov_data, fit_dataset, profile_nll, sample_toys
from alpscan.fitting.window_model import WindowModel
from alpscan.stats.limits import ProfileCurve, yield_limits

from .windows import HI, LO, SIG

MODEL = WindowModel(LO, HI, SIG)

THETA_B = MODEL.from_public([0.0, 300.0, -0.2, 0.05])  # background only, 300 events
N_TOYS = 400
N_GRID = 40


def _expected_limit() -> tuple[float, float, ProfileCurve]:
    """Median expected 90 % CL limit (events) and σ of n̂ from the Asimov dataset."""
    xa, wa = asimov_data(MODEL, THETA_B)
    free, _ = fit_dataset(MODEL, xa, weights=wa)
    sigma = float(free.n_sig_err[0])
    grid = np.linspace(-5 * sigma, 12 * sigma, N_GRID)
    asimov = ProfileCurve(grid, profile_nll(MODEL, xa, grid, weights=wa),
                          float(free.n_sig[0]), float(free.nll[0]))  # fmt: skip
    res = yield_limits(asimov, asimov, sigma_eff=0.0, cl=0.9)
    return float(res.expected[2]), sigma, asimov


def _repeat_each(offsets: np.ndarray, n_rep: int) -> tuple[np.ndarray, np.ndarray]:
    """Event indices that repeat every toy ``n_rep`` times in a row, and new offsets."""
    sizes = np.repeat(np.diff(offsets), n_rep)
    starts = np.repeat(offsets[:-1], n_rep)
    new_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    idx = np.arange(new_off[-1]) - np.repeat(new_off[:-1], sizes) + np.repeat(starts, sizes)
    return idx, new_off


def _toy_limits(n_inject: float, seed: int, s_exp: float, sigma: float, asimov):
    """Fitted yields, errors and observed CLs limits of toys with ``n_inject`` signal."""
    theta = THETA_B.copy()
    theta[0] = n_inject
    x, off = sample_toys(np.random.default_rng(seed), MODEL, theta, N_TOYS)
    basis = MODEL.basis(x)
    free = fit_batch(MODEL, basis, off)
    grid = np.linspace(-5 * sigma, n_inject + 12 * sigma, N_GRID)
    idx, off_rep = _repeat_each(off, N_GRID)
    prof = fit_batch(MODEL, basis[:, idx], off_rep, n_sig_fixed=np.tile(grid, N_TOYS),
                     max_iter=500)  # fmt: skip
    nll = prof.nll.reshape(N_TOYS, N_GRID)
    ok = free.converged & prof.converged.reshape(N_TOYS, N_GRID).all(axis=1)
    limits = np.full(N_TOYS, np.nan)
    for b in np.flatnonzero(ok):  # one scalar root finding per dataset
        obs = ProfileCurve(grid, nll[b], float(free.n_sig[b]), float(free.nll[b]))
        limits[b] = yield_limits(obs, asimov, sigma_eff=0.0, cl=0.9).observed
    return free.n_sig[ok], free.n_sig_err[ok], limits[ok]


@pytest.fixture(scope="module")
def expected():
    return _expected_limit()


def test_expected_limit_is_a_few_sigma(expected):
    s_exp, sigma, _ = expected
    # CCGV: median 90 % CLs limit of a Gaussian estimate is σ·(Φ⁻¹(1 − 0.1·0.5) + 0) ≈ 1.64σ
    assert s_exp == pytest.approx(1.645 * sigma, rel=0.08)


def test_injected_signal_at_expected_limit_is_recovered(expected):
    s_exp, sigma, asimov = expected
    n_fit, n_err, _ = _toy_limits(s_exp, 11, s_exp, sigma, asimov)
    assert n_fit.size >= 0.98 * N_TOYS
    pull = (n_fit - s_exp) / n_err
    assert abs(pull.mean()) < 0.15  # unbiased recovery of the injected yield
    assert pull.std(ddof=1) == pytest.approx(1.0, abs=0.1)
    assert abs(np.mean(n_fit) - s_exp) < sigma  # the injected yield within 1σ on average
    assert np.mean(np.abs(pull) < 1.0) == pytest.approx(0.683, abs=0.07)


def test_limits_cover_the_injected_yield(expected):
    s_exp, sigma, asimov = expected
    _, _, lim = _toy_limits(s_exp, 12, s_exp, sigma, asimov)
    coverage = float(np.mean(lim >= s_exp))
    stat = np.sqrt(0.9 * 0.1 / lim.size)
    assert coverage >= 0.9 - 2 * stat
    assert coverage <= 0.995  # a limit that never excludes would be useless


def test_background_only_limits_have_the_expected_median(expected):
    s_exp, sigma, asimov = expected
    _, _, lim = _toy_limits(0.0, 13, s_exp, sigma, asimov)
    frac_below = float(np.mean(lim < s_exp))
    assert frac_below == pytest.approx(0.5, abs=3 * np.sqrt(0.25 / lim.size))
