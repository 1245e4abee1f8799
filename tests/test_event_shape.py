"""Tests of alpscan.physics.event_shape against hand calculations and direct formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import eval_legendre

from alpscan.physics import event_shape as es
from alpscan.physics.kinematics import random_unit_vectors, unit_vectors

SQRT_S = 10.58
E_BEAM = SQRT_S / 2.0


# ----------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------
def one_event(vectors) -> tuple[np.ndarray, np.ndarray]:
    p3 = np.asarray(vectors, dtype=float)[None, :, :]
    return p3, np.ones(p3.shape[:2], dtype=bool)


def fibonacci_sphere(n: int) -> np.ndarray:
    """Nearly uniform unit vectors (second moments isotropic to O(1/n))."""
    i = np.arange(n)
    cos_theta = 1.0 - (2.0 * i + 1.0) / n
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return unit_vectors(cos_theta, phi)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def rotation_about_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def pad_with_garbage(p3, mask, extra, rng, *others):
    """Insert `extra` masked rows of garbage at random positions of every event."""
    n, m = mask.shape
    total = m + extra
    new_p3 = rng.normal(size=(n, total, 3)) * 1e3
    new_p3[:, ::3] = np.nan
    new_mask = np.zeros((n, total), dtype=bool)
    new_others = [np.full((n, total), 7.0) for _ in others]
    for i in range(n):
        pos = np.sort(rng.choice(total, size=m, replace=False))
        new_p3[i, pos] = p3[i]
        new_mask[i, pos] = mask[i]
        for src, dst in zip(others, new_others):
            dst[i, pos] = src[i]
    # masked-out rows of the original are garbage too
    new_p3[~new_mask] = np.where(np.isnan(new_p3[~new_mask]), np.nan, 1e6)
    return (new_p3, new_mask, *new_others)


def brute_force_thrust(p3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thrust by enumerating all ± assignments (all hemisphere partitions)."""
    m = p3.shape[1]
    signs = np.array(list(itertools.product([1.0, -1.0], repeat=m)))
    sums = np.einsum("sm,nmk->nsk", signs, p3)
    norms = np.linalg.norm(sums, axis=-1)
    best = np.argmax(norms, axis=1)
    vec = sums[np.arange(len(p3)), best]
    t = norms.max(axis=1) / np.linalg.norm(p3, axis=-1).sum(axis=1)
    return t, vec / np.linalg.norm(vec, axis=1, keepdims=True)


def exact_thrust_value(p: np.ndarray) -> float:
    """Exact thrust in O(M³): the optimal hemisphere boundary can be turned until it
    contains two particles j, k, so try every plane spanned by a pair and all four
    hemisphere assignments of j and k."""
    m = len(p)
    j, k = np.triu_indices(m, 1)
    normals = np.cross(p[j], p[k])
    signs = np.sign(p @ normals.T)  # (m, pairs)
    cols = np.arange(len(j))
    signs[j, cols] = 0.0
    signs[k, cols] = 0.0
    base = signs.T @ p
    best = max(np.linalg.norm(base + a * p[j] + b * p[k], axis=1).max() for a in (-1, 1) for b in (-1, 1))
    return best / np.linalg.norm(p, axis=1).sum()


def fw_direct(p: np.ndarray, l_max: int) -> np.ndarray:
    a = np.linalg.norm(p, axis=1)
    c = np.clip((p @ p.T) / np.outer(a, a), -1.0, 1.0)
    return np.array([np.sum(np.outer(a, a) * eval_legendre(ell, c)) for ell in range(l_max + 1)])


def legendre(ell: int, c: float) -> float:
    return float(eval_legendre(ell, c))


def ksfw_reference(sig, sig_q, roe, roe_q, e_beam, delta_e, sig_e=None, roe_e=None) -> dict:
    """Straight transcription of the Belle k_sfw / basf2 KsfwMoments loops."""
    sig = [np.asarray(v, float) for v in sig]
    roe = [np.asarray(v, float) for v in roe]
    sig_e = [np.linalg.norm(v) for v in sig] if sig_e is None else list(sig_e)
    roe_e = [np.linalg.norm(v) for v in roe] if roe_e is None else list(roe_e)
    p_miss = -(sum(sig) + sum(roe))
    e_miss = 2.0 * e_beam - sum(sig_e) - sum(roe_e)
    mm2 = e_miss**2 - p_miss @ p_miss if e_miss > 0 else -(e_miss**2) - p_miss @ p_miss
    et = sum(np.hypot(v[0], v[1]) for v in sig + roe)
    hmax = 2.0 * (e_beam - delta_e)

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    hso = np.zeros((3, 5))  # c, n, m
    for pi, qi in zip(sig, sig_q):
        for pj, qj in zip(roe, roe_q):
            x = 1 if qj == 0 else 0
            for ell in range(5):
                if ell % 2:
                    hso[x, ell] += qi * qj * np.linalg.norm(pj) * legendre(ell, cos(pi, pj))
                else:
                    hso[x, ell] += np.linalg.norm(pj) * legendre(ell, cos(pi, pj))
        for ell in (0, 2, 4):
            hso[2, ell] += np.linalg.norm(p_miss) * legendre(ell, cos(pi, p_miss))
    objs = list(zip(roe, roe_q)) + [(p_miss, 0)]
    hoo = np.zeros(5)
    for a in range(len(objs)):
        for b in range(a):
            (pa, qa), (pb, qb) = objs[a], objs[b]
            w = np.linalg.norm(pa) * np.linalg.norm(pb)
            for ell in range(5):
                weight = qa * qb if ell % 2 else 1.0
                hoo[ell] += weight * w * legendre(ell, cos(pa, pb))
    out = {"ksfw_mm2": mm2, "ksfw_et": et}
    for ell in range(5):
        out[f"ksfw_so_c{ell}"] = hso[0, ell] / hmax
        out[f"ksfw_oo{ell}"] = hoo[ell] / hmax**2
    for ell in (0, 2, 4):
        out[f"ksfw_so_n{ell}"] = hso[1, ell] / hmax
        out[f"ksfw_so_m{ell}"] = hso[2, ell] / hmax
    return out


def random_split_events(rng, n, s, r):
    sig = random_unit_vectors(rng, (n, s)) * rng.uniform(0.3, 2.5, size=(n, s, 1))
    roe = random_unit_vectors(rng, (n, r)) * rng.exponential(0.5, size=(n, r, 1))
    sig_mask = np.ones((n, s), dtype=bool)
    roe_mask = rng.random((n, r)) < 0.85
    sig_q = rng.choice([-1, 0, 1], size=(n, s)).astype(float)
    roe_q = rng.choice([-1, 0, 0, 1], size=(n, r)).astype(float)
    return sig, sig_mask, sig_q, roe, roe_mask, roe_q


# ----------------------------------------------------------------------------------
# simple limiting cases
# ----------------------------------------------------------------------------------
def test_back_to_back_tracks():
    p3, mask = one_event([[0.3, -1.2, 2.0], [-0.3, 1.2, -2.0]])
    t, axis = es.thrust(p3, mask)
    assert t[0] == pytest.approx(1.0, abs=1e-14)
    direction = np.array([0.3, -1.2, 2.0]) / np.linalg.norm([0.3, -1.2, 2.0])
    np.testing.assert_allclose(axis[0], direction, atol=1e-14)  # n_z > 0 convention
    assert es.r2(p3, mask)[0] == pytest.approx(1.0, abs=1e-13)
    s, a = es.sphericity_aplanarity(p3, mask)
    assert s[0] == pytest.approx(0.0, abs=1e-13)
    assert a[0] == pytest.approx(0.0, abs=1e-13)


def test_thrust_axis_sign_convention_and_single_particle():
    p3, mask = one_event([[0.0, 0.0, -2.0]])
    t, axis = es.thrust(p3, mask)
    assert t[0] == pytest.approx(1.0)
    np.testing.assert_allclose(axis[0], [0.0, 0.0, 1.0])
    p3, mask = one_event([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(es.thrust(p3, mask)[1][0], [1.0, 0.0, 0.0])


def test_thrust_hand_cases():
    # three equal momenta at 120° in a plane (Mercedes): T = 2/3, axis along any one
    ang = np.deg2rad([90.0, 210.0, 330.0])
    p3, mask = one_event(np.stack([np.cos(ang), np.sin(ang), np.zeros(3)], axis=1))
    t, axis = es.thrust(p3, mask)
    assert t[0] == pytest.approx(2.0 / 3.0, abs=1e-14)
    # three orthogonal unit momenta: T = |(1,1,1)| / 3
    p3, mask = one_event(np.eye(3))
    t, axis = es.thrust(p3, mask)
    assert t[0] == pytest.approx(np.sqrt(3.0) / 3.0, abs=1e-14)
    np.testing.assert_allclose(axis[0], np.ones(3) / np.sqrt(3.0), atol=1e-14)
    # a hard jet against two soft particles: axis along the jet
    p3, mask = one_event([[0.0, 0.0, 3.0], [0.1, 0.0, -1.0], [-0.1, 0.0, -1.0]])
    t, axis = es.thrust(p3, mask)
    assert t[0] == pytest.approx(5.0 / (3.0 + 2.0 * np.hypot(0.1, 1.0)), abs=1e-14)
    np.testing.assert_allclose(axis[0], [0.0, 0.0, 1.0], atol=1e-14)


def test_isotropic_event():
    p = fibonacci_sphere(2000) * 0.7
    p3, mask = one_event(p)
    assert abs(es.r2(p3, mask)[0]) < 2e-3
    s, a = es.sphericity_aplanarity(p3, mask)
    assert s[0] == pytest.approx(1.0, abs=2e-3)
    assert a[0] == pytest.approx(0.5, abs=2e-3)
    # random directions: same within statistical fluctuations (~1/sqrt(2000))
    rng = np.random.default_rng(5)
    p3, mask = one_event(random_unit_vectors(rng, (2000,)))
    assert abs(es.r2(p3, mask)[0]) < 0.01
    s, a = es.sphericity_aplanarity(p3, mask)
    assert s[0] == pytest.approx(1.0, abs=0.04)
    assert a[0] == pytest.approx(0.5, abs=0.04)
    t, _ = es.thrust(p3, mask)
    assert 0.5 <= t[0] < 0.53


def test_planar_events():
    rng = np.random.default_rng(6)
    rot = random_rotation(rng)
    # random momenta in a plane: aplanarity 0
    p = np.zeros((40, 3))
    p[:, :2] = rng.normal(size=(40, 2))
    p3, mask = one_event(p @ rot.T)
    s, a = es.sphericity_aplanarity(p3, mask)
    assert a[0] == pytest.approx(0.0, abs=1e-13)
    assert 0.0 < s[0] <= 1.0
    # regular polygon: eigenvalues (1/2, 1/2, 0) exactly -> S = 3/4, A = 0
    ang = 2.0 * np.pi * np.arange(7) / 7.0
    p3, mask = one_event(np.stack([np.cos(ang), np.sin(ang), np.zeros(7)], axis=1) @ rot.T)
    s, a = es.sphericity_aplanarity(p3, mask)
    assert s[0] == pytest.approx(0.75, abs=1e-13)
    assert a[0] == pytest.approx(0.0, abs=1e-13)


def test_empty_events():
    p3 = np.full((2, 3, 3), np.nan)
    mask = np.zeros((2, 3), dtype=bool)
    mask[1, 0] = True
    p3[1, 0] = 0.0  # one particle with no momentum
    t, axis = es.thrust(p3, mask)
    assert np.all(np.isnan(t)) and np.all(np.isnan(axis))
    assert np.all(np.isnan(es.r2(p3, mask)))
    np.testing.assert_array_equal(es.fox_wolfram_moments(p3, mask), 0.0)
    s, a = es.sphericity_aplanarity(p3, mask)
    assert np.all(np.isnan(s)) and np.all(np.isnan(a))
    np.testing.assert_array_equal(es.momentum_flow(p3, mask, [0.0, 0.0, 1.0]), 0.0)
    assert np.all(np.isnan(es.harmonic_moments(p3, mask, np.zeros(3), SQRT_S)))


# ----------------------------------------------------------------------------------
# Fox-Wolfram moments
# ----------------------------------------------------------------------------------
def test_fox_wolfram_hand_computed():
    # orthogonal momenta 1, 2, 3 GeV: H_l = Σ|p|² + 2 Σ_{i<j} |p_i||p_j| P_l(0)
    p3, mask = one_event([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    expected = [36.0, 14.0, 14.0 - 11.0, 14.0, 14.0 + 22.0 * 3.0 / 8.0]
    np.testing.assert_allclose(es.fox_wolfram_moments(p3, mask)[0], expected, rtol=1e-13, atol=1e-12)
    assert es.r2(p3, mask)[0] == pytest.approx(3.0 / 36.0, rel=1e-13)


@pytest.mark.parametrize("l_max", [4, 7])
def test_fox_wolfram_against_direct_formula(l_max):
    rng = np.random.default_rng(l_max)
    p3 = rng.normal(size=(30, 6, 3))
    mask = rng.random((30, 6)) < 0.8
    mask[:, 0] = True
    h = es.fox_wolfram_moments(p3, mask, l_max=l_max)
    assert h.shape == (30, l_max + 1)
    for i in range(30):
        np.testing.assert_allclose(h[i], fw_direct(p3[i][mask[i]], l_max), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(es.r2(p3, mask), h[:, 2] / h[:, 0], rtol=1e-12)


def test_three_particle_fw_generic():
    p3, mask = one_event([[0.5, 0.1, -0.3], [-0.2, 0.9, 0.4], [0.3, -0.6, 1.1]])
    p = p3[0]
    a = np.linalg.norm(p, axis=1)
    for ell in range(5):
        direct = sum(
            a[i] * a[j] * legendre(ell, p[i] @ p[j] / (a[i] * a[j])) for i in range(3) for j in range(3)
        )
        assert es.fox_wolfram_moments(p3, mask)[0, ell] == pytest.approx(direct, rel=1e-12, abs=1e-12)


# ----------------------------------------------------------------------------------
# invariances
# ----------------------------------------------------------------------------------
def _rotation_invariant_quantities(p3, mask):
    t, _ = es.thrust(p3, mask)
    s, a = es.sphericity_aplanarity(p3, mask)
    return np.column_stack([es.fox_wolfram_moments(p3, mask, l_max=6), es.r2(p3, mask), t, s, a])


def test_rotation_permutation_padding_invariance():
    rng = np.random.default_rng(7)
    n, m = 200, 12
    p3 = random_unit_vectors(rng, (n, m)) * rng.exponential(1.0, size=(n, m, 1))
    mask = rng.random((n, m)) < 0.8
    ref = _rotation_invariant_quantities(p3, mask)
    _, ref_axis = es.thrust(p3, mask)

    rot = random_rotation(rng)
    rotated = _rotation_invariant_quantities(p3 @ rot.T, mask)
    np.testing.assert_allclose(rotated, ref, rtol=1e-10, atol=1e-12)
    _, rot_axis = es.thrust(p3 @ rot.T, mask)
    np.testing.assert_allclose(np.abs(np.sum((ref_axis @ rot.T) * rot_axis, axis=1)), 1.0, atol=1e-10)

    perm = rng.permutation(m)
    np.testing.assert_allclose(
        _rotation_invariant_quantities(p3[:, perm], mask[:, perm]), ref, rtol=1e-10, atol=1e-12
    )

    pp3, pmask = pad_with_garbage(p3, mask, 5, rng)
    np.testing.assert_allclose(_rotation_invariant_quantities(pp3, pmask), ref, rtol=1e-12, atol=1e-13)


def test_table_invariance_and_padding():
    rng = np.random.default_rng(8)
    n = 100
    sig, sm, sq, roe, rm, rq = random_split_events(rng, n, 3, 15)
    de = rng.uniform(-0.2, 0.1, n)
    ref = es.event_shape_table(sig, sm, sq, roe, rm, rq, SQRT_S, E_BEAM, de)

    # rotation about the beam axis leaves every variable unchanged
    rot = rotation_about_z(0.83)
    out = es.event_shape_table(sig @ rot.T, sm, sq, roe @ rot.T, rm, rq, SQRT_S, E_BEAM, de)
    for key in ref:
        np.testing.assert_allclose(out[key], ref[key], rtol=1e-9, atol=1e-11, err_msg=key)

    # particle order and masked garbage rows do not matter
    ps, pr = rng.permutation(3), rng.permutation(15)
    out = es.event_shape_table(
        sig[:, ps], sm[:, ps], sq[:, ps], roe[:, pr], rm[:, pr], rq[:, pr], SQRT_S, E_BEAM, de
    )
    for key in ref:
        np.testing.assert_allclose(out[key], ref[key], rtol=1e-10, atol=1e-12, err_msg=key)
    psig, psm, psq = pad_with_garbage(sig, sm, 2, rng, sq)
    proe, prm, prq = pad_with_garbage(roe, rm, 6, rng, rq)
    out = es.event_shape_table(psig, psm, psq, proe, prm, prq, SQRT_S, E_BEAM, de)
    for key in ref:
        np.testing.assert_allclose(out[key], ref[key], rtol=1e-12, atol=1e-13, err_msg=key)


def test_general_rotation_invariance_of_ksfw_moments():
    rng = np.random.default_rng(9)
    sig, sm, sq, roe, rm, rq = random_split_events(rng, 50, 3, 12)
    ref = es.ksfw_moments(sig, sm, sq, roe, rm, rq, E_BEAM, 0.05)
    rot = random_rotation(rng)
    out = es.ksfw_moments(sig @ rot.T, sm, sq, roe @ rot.T, rm, rq, E_BEAM, 0.05)
    for key in es.KSFW_KEYS:
        if key == "ksfw_et":  # transverse to z: not invariant under general rotations
            continue
        np.testing.assert_allclose(out[key], ref[key], rtol=1e-9, atol=1e-11, err_msg=key)


# ----------------------------------------------------------------------------------
# thrust against brute force
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("m", range(2, 9))
def test_thrust_matches_brute_force(m):
    rng = np.random.default_rng(100 + m)
    n = 400
    p3 = random_unit_vectors(rng, (n, m)) * rng.exponential(1.0, size=(n, m, 1))
    p3[: n // 2] = rng.normal(size=(n // 2, m, 3))  # half Gaussian momenta
    mask = np.ones((n, m), dtype=bool)
    t_ref, axis_ref = brute_force_thrust(p3)
    # public function (exhaustive search for events this small)
    t, axis = es.thrust(p3, mask)
    np.testing.assert_allclose(t, t_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(axis * axis_ref, axis=1)), 1.0, atol=1e-9)
    assert np.all(axis[:, 2] >= 0.0)
    # the iterative seeded search that is used for larger events
    t_it, axis_it = es._thrust_kernel(p3, mask, 0)
    np.testing.assert_allclose(t_it, t_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(axis_it * axis_ref, axis=1)), 1.0, atol=1e-9)


def test_iterative_thrust_larger_events():
    # 9-11 particles: iterative search (public path) still agrees with brute force
    rng = np.random.default_rng(200)
    for m in (9, 11):
        p3 = rng.normal(size=(150, m, 3))
        t_ref, _ = brute_force_thrust(p3)
        t, _ = es.thrust(p3, np.ones((150, m), dtype=bool))
        np.testing.assert_allclose(t, t_ref, rtol=0, atol=1e-12)
    # 20 and 40 particles: never above the exact value, equal to it in nearly all events
    for m, min_fraction in ((20, 0.97), (40, 0.95)):
        p3 = random_unit_vectors(rng, (150, m)) * rng.exponential(0.5, size=(150, m, 1))
        mask = np.ones((150, m), dtype=bool)
        t, axis = es.thrust(p3, mask)
        exact = np.array([exact_thrust_value(p) for p in p3])
        assert np.all(t <= exact + 1e-12)
        assert np.mean(t > exact - 1e-12) >= min_fraction
        assert np.all(t > exact - 0.05)
        # T is the objective evaluated at the returned axis
        direct = np.sum(np.abs(np.einsum("nmk,nk->nm", p3, axis)), axis=1) / np.linalg.norm(p3, axis=-1).sum(
            1
        )
        np.testing.assert_allclose(t, direct, rtol=1e-12)


def test_exact_thrust_reference_agrees_with_brute_force():
    rng = np.random.default_rng(201)
    p3 = rng.normal(size=(50, 7, 3))
    t_ref, _ = brute_force_thrust(p3)
    np.testing.assert_allclose([exact_thrust_value(p) for p in p3], t_ref, rtol=1e-12)


# ----------------------------------------------------------------------------------
# axis-based quantities
# ----------------------------------------------------------------------------------
def test_harmonic_moments_cones_hemispheres_hand_event():
    theta_deg = np.array([5.0, 175.0, 45.5, 95.0, 89.9, 62.0])
    pmag = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 1.5])
    phi = np.array([0.3, 1.0, 2.0, -1.0, 0.0, 4.0])
    p = pmag[:, None] * unit_vectors(np.cos(np.deg2rad(theta_deg)), phi)
    rot = random_rotation(np.random.default_rng(10))
    p3, mask = one_event(p @ rot.T)
    axis = (rot @ np.array([0.0, 0.0, 2.0]))[None, :]  # not normalised on purpose

    cones = es.momentum_flow(p3, mask, axis)[0]
    expected = np.zeros(9)
    expected[0] = 1.0 + 2.0  # 5° and 175°
    expected[4] = 3.0  # 45.5°
    expected[8] = 4.0 + 0.5  # 95° and 89.9°
    expected[6] = 1.5  # 62°
    np.testing.assert_allclose(cones, expected, atol=1e-12)
    np.testing.assert_allclose(es.momentum_flow(p3, mask, axis, n_cones=3)[0], [3.0, 3.0, 6.0], atol=1e-12)

    fwd, bwd = es.momentum_flow_hemispheres(p3, mask, axis)
    assert fwd[0] == pytest.approx(1.0 + 3.0 + 0.5 + 1.5)  # θ < 90°
    assert bwd[0] == pytest.approx(2.0 + 4.0)

    b = es.harmonic_moments(p3, mask, axis, SQRT_S, l_max=6)[0]
    c = np.cos(np.deg2rad(theta_deg))
    expected_b = [np.sum(pmag * eval_legendre(ell, c)) / SQRT_S for ell in range(7)]
    np.testing.assert_allclose(b, expected_b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        es.harmonic_moments(p3, mask, axis, SQRT_S)[0], expected_b[:5], rtol=1e-12, atol=1e-14
    )


def test_cone_and_hemisphere_edges():
    # exactly perpendicular: last cone, forward hemisphere; exactly along ±axis: cone 0
    p3, mask = one_event([[1.0, 0.0, 0.0], [0.0, 0.0, -2.0], [0.0, 0.0, 3.0]])
    cones = es.momentum_flow(p3, mask, [0.0, 0.0, 1.0])[0]
    np.testing.assert_allclose(cones, [5.0, 0, 0, 0, 0, 0, 0, 0, 1.0])
    fwd, bwd = es.momentum_flow_hemispheres(p3, mask, [0.0, 0.0, 1.0])
    assert (fwd[0], bwd[0]) == (4.0, 2.0)


def test_thrust_angles_and_roe_thrust():
    sig3, sm = one_event([[0.0, 0.0, 2.0], [0.0, 0.1, -1.0], [0.0, -0.1, -1.0]])  # axis z
    roe3, rm = one_event([[1.0, 0.0, 1.0], [-1.0, 0.0, -1.0]])  # axis (1,0,1)/√2
    assert es.cos_thrust_b_roe(sig3, sm, roe3, rm)[0] == pytest.approx(np.sqrt(0.5))
    assert es.cos_thrust_b_z(sig3, sm)[0] == pytest.approx(1.0)
    assert es.roe_thrust(roe3, rm)[0] == pytest.approx(1.0)


# ----------------------------------------------------------------------------------
# KSFW
# ----------------------------------------------------------------------------------
def test_ksfw_hand_event_against_reference():
    sig = [[0.2, 1.1, 1.9], [-0.4, -0.3, 0.8], [0.1, -0.9, -0.5]]
    sig_q = [1, 0, 0]
    roe = [[-0.5, 0.2, -1.3], [0.9, -0.4, 0.1], [0.05, 0.3, -0.2], [-0.7, -0.6, 0.4], [0.2, 0.2, 0.9]]
    roe_q = [-1, 1, 0, 0, -1]
    delta_e = -0.03
    out = es.ksfw_moments(
        np.array([sig]),
        np.ones((1, 3), bool),
        np.array([sig_q]),
        np.array([roe]),
        np.ones((1, 5), bool),
        np.array([roe_q]),
        E_BEAM,
        delta_e,
    )
    ref = ksfw_reference(sig, sig_q, roe, roe_q, E_BEAM, delta_e)
    assert set(out) == set(es.KSFW_KEYS) == set(ref)
    for key in es.KSFW_KEYS:
        assert out[key][0] == pytest.approx(ref[key], rel=1e-11, abs=1e-13), key
    # the Belle definition has no odd neutral / missing moments
    assert not any(k in out for k in ("ksfw_so_n1", "ksfw_so_n3", "ksfw_so_m1", "ksfw_so_m3"))


def test_ksfw_random_events_against_reference():
    rng = np.random.default_rng(11)
    n = 25
    sig, sm, sq, roe, rm, rq = random_split_events(rng, n, 3, 9)
    de = rng.uniform(-0.2, 0.1, n)
    sig_e = np.sqrt(np.sum(sig**2, axis=-1) + 0.139**2)
    roe_e = np.sqrt(np.sum(roe**2, axis=-1) + 0.3**2)
    out = es.ksfw_moments(sig, sm, sq, roe, rm, rq, E_BEAM, de, sig_energy=sig_e, roe_energy=roe_e)
    for i in range(n):
        ref = ksfw_reference(
            list(sig[i][sm[i]]),
            list(sq[i][sm[i]]),
            list(roe[i][rm[i]]),
            list(rq[i][rm[i]]),
            E_BEAM,
            de[i],
            sig_e[i][sm[i]],
            roe_e[i][rm[i]],
        )
        for key in es.KSFW_KEYS:
            assert out[key][i] == pytest.approx(ref[key], rel=1e-10, abs=1e-12), (i, key)


def test_ksfw_missing_mass_and_et_simple():
    # two massless back-to-back 5.29 GeV particles: nothing missing
    sig, sm = one_event([[0.0, 0.0, E_BEAM]])
    roe, rm = one_event([[0.0, 0.0, -E_BEAM]])
    out = es.ksfw_moments(sig, sm, None, roe, rm, None, E_BEAM, 0.0)
    assert out["ksfw_mm2"][0] == pytest.approx(0.0, abs=1e-12)
    assert out["ksfw_et"][0] == pytest.approx(0.0, abs=1e-12)
    # one 3 GeV photon along x in the ROE, 4 GeV along −x on the sig side
    sig, sm = one_event([[-4.0, 0.0, 0.0]])
    roe, rm = one_event([[3.0, 0.0, 0.0]])
    out = es.ksfw_moments(sig, sm, None, roe, rm, None, E_BEAM, 0.0)
    assert out["ksfw_et"][0] == pytest.approx(7.0)
    assert out["ksfw_mm2"][0] == pytest.approx((SQRT_S - 7.0) ** 2 - 1.0)


# ----------------------------------------------------------------------------------
# the combined table
# ----------------------------------------------------------------------------------
def test_event_shape_table_matches_individual_functions():
    rng = np.random.default_rng(12)
    n = 60
    sig, sm, sq, roe, rm, rq = random_split_events(rng, n, 3, 20)
    de = rng.uniform(-0.2, 0.1, n)
    tab = es.event_shape_table(sig, sm, sq, roe, rm, rq, SQRT_S, E_BEAM, de)
    expected_keys = (
        {
            "r2",
            "thrust_b",
            "roe_thrust",
            "cos_thrust_b_roe",
            "cos_thrust_b_z",
            "sphericity",
            "aplanarity",
            "mflow_forward",
            "mflow_backward",
        }
        | {f"harmonic_b{ell}" for ell in range(5)}
        | {f"cleo_cone{k}" for k in range(9)}
        | set(es.KSFW_KEYS)
    )
    assert set(tab) == expected_keys
    assert all(v.shape == (n,) for v in tab.values())

    all_p3 = np.concatenate([sig, roe], axis=1)
    all_mask = np.concatenate([sm, rm], axis=1)
    np.testing.assert_allclose(tab["r2"], es.r2(all_p3, all_mask), rtol=1e-11)
    t_b, ax_b = es.thrust(sig, sm)
    np.testing.assert_allclose(tab["thrust_b"], t_b)
    np.testing.assert_allclose(tab["roe_thrust"], es.roe_thrust(roe, rm))
    np.testing.assert_allclose(tab["cos_thrust_b_roe"], es.cos_thrust_b_roe(sig, sm, roe, rm))
    np.testing.assert_allclose(tab["cos_thrust_b_z"], es.cos_thrust_b_z(sig, sm))
    s, a = es.sphericity_aplanarity(all_p3, all_mask)
    np.testing.assert_allclose(tab["sphericity"], s, rtol=1e-12)
    np.testing.assert_allclose(tab["aplanarity"], a, rtol=1e-12, atol=1e-15)
    b = es.harmonic_moments(all_p3, all_mask, ax_b, SQRT_S)
    cones = es.momentum_flow(all_p3, all_mask, ax_b)
    fwd, bwd = es.momentum_flow_hemispheres(all_p3, all_mask, ax_b)
    for ell in range(5):
        np.testing.assert_allclose(tab[f"harmonic_b{ell}"], b[:, ell], rtol=1e-12, atol=1e-15)
    for k in range(9):
        np.testing.assert_allclose(tab[f"cleo_cone{k}"], cones[:, k], rtol=1e-12)
    np.testing.assert_allclose(tab["mflow_forward"], fwd, rtol=1e-12)
    np.testing.assert_allclose(tab["mflow_backward"], bwd, rtol=1e-12)
    # scalar momentum is shared between the hemispheres and between the cones
    np.testing.assert_allclose(fwd + bwd, np.linalg.norm(all_p3, axis=-1).sum(1, where=all_mask), rtol=1e-12)
    np.testing.assert_allclose(cones.sum(1), fwd + bwd, rtol=1e-12)
    np.testing.assert_allclose(tab["harmonic_b0"], (fwd + bwd) / SQRT_S, rtol=1e-12)
    ksfw = es.ksfw_moments(sig, sm, sq, roe, rm, rq, E_BEAM, de)
    for key in es.KSFW_KEYS:
        np.testing.assert_allclose(tab[key], ksfw[key], rtol=1e-13, err_msg=key)


def test_input_validation():
    p3 = np.zeros((2, 3, 3))
    with pytest.raises(ValueError):
        es.thrust(p3, np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError):
        es.r2(np.zeros((2, 3)), np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError):
        es.harmonic_moments(p3, np.ones((2, 3), dtype=bool), np.ones((3, 3)), SQRT_S)
