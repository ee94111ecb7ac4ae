"""Ridge classifier trained on real + verified/pruned synthetic data: RMT accuracy theory and JAX simulators.

Source: M. El Firdoussi, M. E. A. Seddik, S. Hayou, R. Alami, A. Alzubaidi, H. Hacid, "Maximizing the Potential of
Synthetic Data: Insights from Random Matrix Theory", ICLR 2025, arXiv:2410.08942. The formulas follow the authors'
code (github.com/elfirdoussilab1/Synthetic-data, ``rmt_results.py``: ``Delta``, ``Q_bar``, ``test_expectation(_2)``,
the ``*_toy`` and ``*_synth`` variants) as transcribed in the notes ``theory/rmt_and_self_consuming_loops.md``
sections 1.1-1.6; the paper's theorem numbering was not available, so the three results are called here
Theorem A (general synthetic mean and covariance), Theorem B (toy: covariance estimated from ``nhat`` real samples)
and Theorem C (synthetic data only, closed form). The sharp limit of Theorem C as p/m -> 0 is the phase transition
of Feng, Dohmatob, Yang, Charton & Kempe, "Beyond Model Collapse: Scaling Up with Synthesized Data Requires
Verification", arXiv:2406.07515 (notes section 5.1).

Setting (notes 1.1). Dimension p. Real data: n samples x_i = y_i mu + z_i, z_i ~ N(0, I_p), y_i = ±1.
Synthetic data: m samples x~_i = y_i mu_b + C^{1/2} z~_i with the true label y_i; the label used is y~_i = -y_i with
probability ``eps`` (label noise), else y_i. Verification / pruning keeps a synthetic sample with probability ``phi``
if its label is correct and ``rho`` if it is flipped (q_i ∈ {0, 1}). Classifier (ridge on ±1 targets, ridge ``gam``):

    w = ( (1/N)(sum_i x_i x_i^T + sum_i q_i x~_i x~_i^T) + gam I_p )^{-1} (1/N)(sum_i y_i x_i + sum_i q_i y~_i x~_i),

with **N = n + m, m counted before pruning** (both sums divided by N; real and kept synthetic samples weigh the same).
Test point x ~ N(y mu, I_p); statistic g = w^T x; decision sign(g). Given w, the test accuracy is exactly
Phi(w.mu / ||w||), E[g | w, y=+1] = w.mu and E[g^2 | w] = (w.mu)^2 + ||w||^2. The theory gives the limits of
M = E[g | y = +1] and V = E[g^2] and the **signed** accuracy Phi(M / sqrt(V - M^2)) (never max(acc, 1 - acc): the
sign is what shows the label-noise phase transition).

**Correction.** The formulas as transcribed from the authors' code (notes 1.2-1.4; kept here as
``variant="published"``) put the keep rate alpha inside the resolvent's self-energy as alpha/(1 + alpha delta'),
which is right for a soft weight alpha on every synthetic sample but not for hard 0/1 pruning, where it is
E[q/(1 + q delta')] = alpha/(1 + delta'). They are exact without pruning (alpha = 1) and otherwise off by an amount
that does not shrink with p (e.g. -0.0055 in M, synthetic only, p/m = 1/4, alpha = 0.73; MC at p = 100 and 200).
The default ``variant="corrected"`` uses the exact reduction of :func:`subsample_reduction`: pruning independent of
the features is subsampling, so the pruned problem is the unpruned one with m' = alpha m, eps' = eps rho/alpha and
ridge gam (n + m)/(n + alpha m). Both variants share the transition at eps* and the sharp p/m -> 0 limit.

Derived constants: N = n + m, pi = n/N, alpha = phi(1-eps) + rho eps (= E q, expected kept fraction),
lam = phi(1-eps) - rho eps (= E[q y~ y]).

Theory functions are float64 NumPy (scalar in, dict of floats out). Simulators are pure JAX, one trial per call, and
come in two kinds that must agree in distribution (``tests/test_synthetic_mix.py`` compares them):

* data level (the reference): ``simulate_accuracy_data``, ``simulate_toy_data`` draw every sample (n, m, nhat are
  static shapes);
* statistic level (fast): ``simulate_accuracy``, ``simulate_toy``, ``simulate_synthetic_only`` (and
  ``simulate_mixed_model``, either of the first two by a traced flag) draw the sufficient statistics X^T X and X^T y
  directly from their exact distribution (Wishart blocks by the Bartlett decomposition, pruning through binomial
  counts). Only the array size p is static; n, m, nhat and the simulated dimension ``p_active`` <= p are traced
  scalars (integer valued), so one compiled program serves every sample size and dimension. Work per trial ~p^3
  instead of (n + m) p^2. Derivations in ``_real_block`` and ``_synthetic_block``. Their normals come from
  :func:`theory_lab.gaussian.standard_normal` (same law as ``jax.random.normal``, a cheaper float64 transform); the
  data-level reference keeps ``jax.random.normal``, so the two stay independent implementations.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

from theory_lab.gaussian import standard_normal

__all__ = [
    "VARIANTS",
    "subsample_reduction",
    "pruning_constants",
    "transition_eps",
    "two_level_spectrum",
    "mean_vectors",
    "general_moments",
    "model_moments",
    "toy_moments",
    "synthetic_only_moments",
    "feng_limit",
    "signed_accuracy",
    "bartlett_wishart",
    "bartlett_wishart_pair",
    "simulate_accuracy",
    "simulate_accuracy_data",
    "simulate_toy",
    "simulate_toy_data",
    "simulate_mixed_model",
    "simulate_synthetic_only",
]

#: Stopping rule of the fixed-point iterations (absolute change of every unknown).
FIXED_POINT_TOL = 1e-14
FIXED_POINT_MAX_ITER = 200_000


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def pruning_constants(eps: float, rho: float, phi: float) -> tuple[float, float]:
    """(alpha, lam) = (phi(1-eps) + rho eps, phi(1-eps) - rho eps): expected kept fraction E[q] and E[q y~ y].

    Source: notes 1.1 (El Firdoussi et al., arXiv:2410.08942; authors' code ``rmt_results.py``).
    """
    return phi * (1.0 - eps) + rho * eps, phi * (1.0 - eps) - rho * eps


def transition_eps(rho: float, phi: float) -> float:
    """Label-noise level eps* = phi / (phi + rho) at which lam = phi(1-eps) - rho eps = 0.

    For synthetic-only training, sign(M) = sign(lam), so the signed accuracy crosses 1/2 exactly at eps* (at every
    finite size as well: at lam = 0 the kept labels are independent fair coins and w -> -w leaves the law of the
    trained classifier unchanged). Source: notes 1.4 (El Firdoussi et al. Theorem C; Feng et al. arXiv:2406.07515).
    Needs phi + rho > 0.
    """
    if phi + rho <= 0:
        raise ValueError("transition_eps needs phi + rho > 0")
    return phi / (phi + rho)


def signed_accuracy(m_val: float, v_val: float) -> float:
    """Phi(M / sqrt(V - M^2)): the signed limiting accuracy (below 1/2 when M < 0). NaN if V - M^2 <= 0."""
    var = v_val - m_val**2
    if not var > 0:
        return math.nan
    return float(norm.cdf(m_val / math.sqrt(var)))


def two_level_spectrum(p: int, sigma2: float, kappa: float) -> np.ndarray:
    """Eigenvalues of the synthetic covariance C used by the checks: C = diag(c) with
    c_j = sigma2 (1 + kappa) for j < p//2 and sigma2 (1 - kappa) for j >= p//2
    (kappa ∈ [0, 1); kappa = 0: C = sigma2 I).
    """
    c = np.full(p, sigma2 * (1.0 - kappa), dtype=np.float64)
    c[: p // 2] = sigma2 * (1.0 + kappa)
    return c


def mean_vectors(p: int, mu: float, beta: float, mu_perp: float) -> tuple[np.ndarray, np.ndarray]:
    """(mu, mu_b) in C's eigenbasis, as used by the checks (p >= 4).

    mu = ||mu|| (e_0 + e_h)/sqrt 2 with h = p//2, so the class mean has equal weight in both eigenspaces of the
    two-level C; mu_b = beta mu + ||mu_perp|| (e_1 - e_{h+1})/sqrt 2, with the second direction orthogonal to mu
    (notes 1.1: mu_beta = beta mu + mu_perp, mu_perp ⊥ mu).
    """
    if p < 4:
        raise ValueError("mean_vectors needs p >= 4")
    h = p // 2
    s = 1.0 / math.sqrt(2.0)
    u = np.zeros(p)
    u[0] = u[h] = s
    v = np.zeros(p)
    v[1], v[h + 1] = s, -s
    return mu * u, beta * mu * u + mu_perp * v


def _fixed_point_general(n: float, m: float, c: np.ndarray, alpha: float,
                         gam: float) -> tuple[float, float, np.ndarray]:
    big_n = n + m
    pi = n / big_n
    delta = delta_s = 0.0
    for _ in range(FIXED_POINT_MAX_ITER):
        d = gam + pi / (1.0 + delta) + alpha * (1.0 - pi) * c / (1.0 + delta_s)
        new = float(np.sum(1.0 / d) / big_n)
        new_s = float(alpha * np.sum(c / d) / big_n)
        if abs(new - delta) < FIXED_POINT_TOL and abs(new_s - delta_s) < FIXED_POINT_TOL:
            delta, delta_s = new, new_s
            break
        delta, delta_s = new, new_s
    else:
        raise RuntimeError("Theorem A fixed point did not converge")
    d = gam + pi / (1.0 + delta) + alpha * (1.0 - pi) * c / (1.0 + delta_s)
    return delta, delta_s, d


def _published_general(n: float, m: float, c, mu_vec, mu_b_vec, eps: float, rho: float, phi: float,
                       gam: float) -> dict[str, float]:
    """Theorem A as published (authors' code; notes 1.2): limiting M = E[g | y=+1], V = E[g^2] and signed accuracy
    for an arbitrary synthetic mean mu_b and covariance C, given in C's eigenbasis.

    Symbols: n real and m synthetic samples (m before pruning), N = n + m, pi = n/N; c_j eigenvalues of C (p = len(c));
    mu_vec, mu_b_vec the real and synthetic class means in C's eigenbasis; eps label noise; rho, phi keep
    probabilities (flipped / correct label); gam > 0 ridge; alpha, lam from :func:`pruning_constants`.
    Fixed point, iterated from 0 (monotone):
        D_j = gam + pi/(1+delta) + alpha(1-pi) c_j/(1+delta_s),
        delta = (1/N) sum_j 1/D_j,   delta_s = (alpha/N) sum_j c_j/D_j.
    Deterministic equivalent: Qbar = [diag(D) + a mu mu^T + b mu_b mu_b^T]^{-1}, a = pi/(1+delta),
        b = alpha(1-pi)/(1+delta_s)
        (= [pi(mu mu^T + I)/(1+delta) + alpha(1-pi)(mu_b mu_b^T + C)/(1+delta_s) + gam I]^{-1}).
    Mean: M = a mu^T Qbar mu + lam(1-pi)/(1+delta_s) mu_b^T Qbar mu.
    Second moment: t1 = (1/N)sum 1/D^2, t2 = (1/N)sum (c/D)^2, t3 = (1/N)sum c/D^2;
        a1 = pi t1/(1+delta)^2, a2 = pi t3/(1+delta)^2,
        b1 = alpha(1-pi)t3/(1+delta_s)^2, b2 = alpha(1-pi)t2/(1+delta_s)^2,
        h = (1-b2)(1-a1) - a2 b1, T1 = (a1(1-b2) + a2 b1)/h, T2 = b1/(alpha h),
        E = [(1-b2) Qbar(mu mu^T + I)Qbar + b1 Qbar(mu_b mu_b^T + C)Qbar]/h,
        V = a^2 mu^T E mu + (lam(1-pi)/(1+delta_s))^2 mu_b^T E mu_b + 2 lam pi(1-pi)/((1+delta)(1+delta_s)) mu^T E mu_b
            + T1[1 - 2a mu^T Qbar mu - 2lam(1-pi)/(1+delta_s) mu^T Qbar mu_b]
            + T2[alpha - 2(1-pi)lam^2 mu_b^T Qbar mu_b/(1+delta_s) - 2 lam pi mu^T Qbar mu_b/(1+delta)].
    Accuracy: Phi(M / sqrt(V - M^2)) (signed). Test MSE: V + 1 - 2M.
    Assumptions: p, n, m -> ∞ with p/N, n/N fixed; ||mu||, ||mu_b||, ||C|| bounded; gam > 0; real noise N(0, I_p),
    synthetic noise N(0, C), Gaussian test data from the real distribution.
    Source: El Firdoussi et al., arXiv:2410.08942 (general theorem; authors' ``rmt_results.py``), notes 1.2 [SRC+MC].
    Reference (notes 1.6): n=400, m=800, p=200, ||mu||=1.5, mu_b = 0.7 mu + mu_perp (||mu_perp|| = 1), C = 0.49 I,
    eps=0.3, rho=0.1, phi=0.8, gam=1 -> M, V, acc = 0.4422, 0.3120, 0.9025.
    Returns dict(M, V, acc, delta, delta_s).
    """
    c = np.asarray(c, dtype=np.float64)
    mu_vec = np.asarray(mu_vec, dtype=np.float64)
    mu_b_vec = np.asarray(mu_b_vec, dtype=np.float64)
    if gam <= 0:
        raise ValueError("Theorem A needs gam > 0")
    alpha, lam = pruning_constants(eps, rho, phi)
    big_n = float(n + m)
    pi = n / big_n
    delta, delta_s, d = _fixed_point_general(n, m, c, alpha, gam)
    a = pi / (1.0 + delta)
    b = alpha * (1.0 - pi) / (1.0 + delta_s)

    # Qbar = (diag(d) + U U^T)^{-1} with U = [sqrt(a) mu, sqrt(b) mu_b] (Woodbury; O(p)).
    dinv = 1.0 / d
    u = np.stack([math.sqrt(a) * mu_vec, math.sqrt(b) * mu_b_vec], axis=1)  # (p, 2)
    k = np.eye(2) + u.T @ (dinv[:, None] * u)

    def qbar(v: np.ndarray) -> np.ndarray:
        dv = dinv * v
        return dv - dinv * (u @ np.linalg.solve(k, u.T @ dv))

    qm, qb = qbar(mu_vec), qbar(mu_b_vec)
    mqm, mqb, bqb = mu_vec @ qm, mu_vec @ qb, mu_b_vec @ qb
    t1 = np.sum(dinv**2) / big_n
    t2 = np.sum((c * dinv) ** 2) / big_n
    t3 = np.sum(c * dinv**2) / big_n
    a1 = pi * t1 / (1.0 + delta) ** 2
    a2 = pi * t3 / (1.0 + delta) ** 2
    b1 = alpha * (1.0 - pi) * t3 / (1.0 + delta_s) ** 2
    b2 = alpha * (1.0 - pi) * t2 / (1.0 + delta_s) ** 2
    h = (1.0 - b2) * (1.0 - a1) - a2 * b1
    t_1 = (a1 * (1.0 - b2) + a2 * b1) / h
    t_2 = b1 / (alpha * h) if alpha > 0 else 0.0

    def e_form(x_q: np.ndarray, y_q: np.ndarray, x_mu: float, y_mu: float, x_b: float, y_b: float) -> float:
        # u^T E v with x_q = Qbar u, y_q = Qbar v, x_mu = u^T Qbar mu, x_b = u^T Qbar mu_b (same for v).
        return float(((1.0 - b2) * (x_mu * y_mu + x_q @ y_q) + b1 * (x_b * y_b + x_q @ (c * y_q))) / h)

    e_mm = e_form(qm, qm, mqm, mqm, mqb, mqb)
    e_bb = e_form(qb, qb, mqb, mqb, bqb, bqb)
    e_mb = e_form(qm, qb, mqm, mqb, mqb, bqb)
    lb = lam * (1.0 - pi) / (1.0 + delta_s)
    m_val = a * mqm + lb * mqb
    s1 = a**2 * e_mm + lb**2 * e_bb + 2.0 * lam * pi * (1.0 - pi) / ((1.0 + delta) * (1.0 + delta_s)) * e_mb
    s2 = t_1 * (1.0 - 2.0 * a * mqm - 2.0 * lb * mqb)
    s3 = t_2 * (alpha - 2.0 * (1.0 - pi) * lam**2 * bqb / (1.0 + delta_s) - 2.0 * lam * pi * mqb / (1.0 + delta))
    v_val = float(s1 + s2 + s3)
    return {"M": float(m_val), "V": v_val, "acc": signed_accuracy(float(m_val), v_val), "delta": delta,
            "delta_s": delta_s}


def _published_toy(n: float, m: float, p: float, nhat: float, mu: float, eps: float, rho: float, phi: float,
                   gam: float) -> dict[str, float]:
    """Theorem B ("toy") as published (authors' code; notes 1.3): synthetic mean = mu, synthetic covariance
    C = (1/nhat) Z Z^T with Z ∈ R^{p×nhat} iid N(0,1)
    (the covariance estimated from nhat real samples, centred at the true mean), independent of the training data.

    Three scalars, iterated from (1, 1, 1) (the notes' delta = (nhat/N)(1+delta_s) delta_bar/(alpha(1-pi)) is
    rewritten with the delta_bar equation as delta = (p/N)/b, which is the same fixed point and stays finite when
    alpha(1-pi) = 0):
        b         = gam + pi/(1+delta) + alpha(1-pi)/((1+delta_s)(1+delta_bar))
        delta     = (p/N) / b
        delta_s   = alpha delta / (1+delta_bar)
        delta_bar = alpha(1-pi) p / (nhat (1+delta_s) b)
    Mean: a = pi/(1+delta) + alpha(1-pi)/(1+delta_s), c = pi/(1+delta) + lam(1-pi)/(1+delta_s),
          M = c||mu||^2 / (b + a||mu||^2).
    Second moment: hbar = 1 - [alpha(1-pi)/((1+delta_s)(1+delta_bar))]^2 p/(nhat b^2), t = (p/N)/b^2,
          a1 = pi t/(hbar(1+delta)^2), b1 = alpha(1-pi) t/(hbar(1+delta_s)^2(1+delta_bar)^2), h = 1 - a1 - b1,
          V = c||mu||^2 [c||mu||^2 + c/hbar - 2(a1 + lam b1/alpha)(b + a||mu||^2)] / (h (b + a||mu||^2)^2) + (a1+b1)/h.
    Only ||mu|| (``mu``) enters. Assumptions as Theorem A, with p/nhat fixed.
    Source: El Firdoussi et al., arXiv:2410.08942 (toy setting; ``Delta_bars``, ``test_expectation(_2)_toy``),
    notes 1.3 [SRC+MC]. Reference: p=200, n=nhat=400, m=400, ||mu||=1, eps=0.1, rho=0.1, phi=0.8, gam=1 ->
    0.3031 / 0.2181 / 0.8032 (notes 1.6).
    Returns dict(M, V, acc, delta, delta_s, delta_bar).
    """
    if gam <= 0 or nhat <= 0:
        raise ValueError("Theorem B needs gam > 0 and nhat > 0")
    alpha, lam = pruning_constants(eps, rho, phi)
    big_n = float(n + m)
    pi = n / big_n
    eta = p / big_n
    delta = delta_s = delta_bar = 1.0
    for _ in range(FIXED_POINT_MAX_ITER):
        b = gam + pi / (1 + delta) + alpha * (1 - pi) / ((1 + delta_s) * (1 + delta_bar))
        new = eta / b
        new_s = alpha * delta / (1 + delta_bar)
        new_bar = alpha * (1 - pi) * p / (nhat * (1 + delta_s) * b)
        done = max(abs(new - delta), abs(new_s - delta_s), abs(new_bar - delta_bar)) < FIXED_POINT_TOL
        delta, delta_s, delta_bar = new, new_s, new_bar
        if done:
            break
    else:
        raise RuntimeError("Theorem B fixed point did not converge")
    b = gam + pi / (1 + delta) + alpha * (1 - pi) / ((1 + delta_s) * (1 + delta_bar))
    mu2 = mu**2
    a = pi / (1 + delta) + alpha * (1 - pi) / (1 + delta_s)
    c = pi / (1 + delta) + lam * (1 - pi) / (1 + delta_s)
    m_val = c * mu2 / (b + a * mu2)
    hbar = 1 - (alpha * (1 - pi) / ((1 + delta_s) * (1 + delta_bar))) ** 2 * p / (nhat * b**2)
    t = eta / b**2
    a1 = pi * t / (hbar * (1 + delta) ** 2)
    b1 = alpha * (1 - pi) * t / (hbar * (1 + delta_s) ** 2 * (1 + delta_bar) ** 2)
    h = 1 - a1 - b1
    ratio = lam / alpha if alpha > 0 else 0.0
    v_val = (c * mu2 * (c * mu2 + c / hbar - 2 * (a1 + ratio * b1) * (b + a * mu2)) / (h * (b + a * mu2) ** 2)
             + (a1 + b1) / h)
    return {"M": float(m_val), "V": float(v_val), "acc": signed_accuracy(float(m_val), float(v_val)),
            "delta": delta, "delta_s": delta_s, "delta_bar": delta_bar}


def _published_synthetic_only(m: float, p: float, mu: float, eps: float, rho: float, phi: float,
                              gam: float) -> dict[str, float]:
    """Theorem C as published (authors' code; notes 1.4): synthetic data only (n = 0, mu_b = mu, C = I, N = m),
    closed form.

    Classifier w = ((1/m) sum q_i x~ x~^T + gam I)^{-1} (1/m) sum q_i y~_i x~_i, eta_s = p/m:
        delta = [eta_s alpha - alpha - gam + sqrt((alpha + gam - eta_s alpha)^2 + 4 eta_s alpha gam)] / (2 gam)
        D = alpha||mu||^2 + alpha + gam(1+delta),   M = lam||mu||^2 / D,
        h = 1 - alpha eta_s / (alpha + gam(1+delta))^2,
        V = (lam||mu||)^2/(h D) [(||mu||^2 + 1)/D - 2(1-h)/alpha] + (1-h)/h,
        acc = Phi(M / sqrt(V - M^2))   (signed).
    sign(M) = sign(lam): the accuracy crosses 1/2 at eps* = phi/(phi+rho) (:func:`transition_eps`), smoothly for
    eta_s > 0; as eta_s -> 0, delta -> 0, h -> 1 and the accuracy tends to Phi(sign(lam)||mu||) (:func:`feng_limit`).
    Assumptions: p, m -> ∞ with p/m = eta_s; gam > 0; alpha > 0 (something is kept).
    Source: El Firdoussi et al., arXiv:2410.08942 (``Delta_synth``, ``test_*_synth``), notes 1.4 [SRC+MC].
    Reference: p=200, m=400, ||mu||=1, eps=0.1, rho=0.3, phi=0.8, gam=1 -> 0.2525 / 0.1973 / 0.7551 (notes 1.6).
    Returns dict(M, V, acc, delta).
    """
    alpha, lam = pruning_constants(eps, rho, phi)
    if gam <= 0 or alpha <= 0:
        raise ValueError("Theorem C needs gam > 0 and alpha = phi(1-eps) + rho eps > 0")
    eta = p / m
    root = math.sqrt((alpha + gam - eta * alpha) ** 2 + 4 * eta * alpha * gam)
    delta = (eta * alpha - alpha - gam + root) / (2 * gam)
    mu2 = mu**2
    d = alpha * mu2 + alpha + gam * (1 + delta)
    m_val = lam * mu2 / d
    h = 1 - alpha * eta / (alpha + gam * (1 + delta)) ** 2
    v_val = (lam * mu) ** 2 / (h * d) * ((mu2 + 1) / d - 2 * (1 - h) / alpha) + (1 - h) / h
    return {"M": float(m_val), "V": float(v_val), "acc": signed_accuracy(float(m_val), float(v_val)), "delta": delta}


# ----------------------------------------------------------------------------------------------------------------
# The correction: hard pruning is subsampling
# ----------------------------------------------------------------------------------------------------------------

#: Theory variants: "corrected" (default; what the simulation supports) and "published" (authors' code / notes).
VARIANTS = ("corrected", "published")


def subsample_reduction(n: float, m: float, eps: float, rho: float, phi: float,
                        gam: float) -> tuple[float, float, float]:
    """(m', eps', gam') such that the pruned problem equals the UNpruned one (rho = phi = 1) with m' synthetic samples,
    label noise eps' and ridge gam'.

    Derivation [DERIVED here; MC-confirmed in tests/test_synthetic_mix.py]. The keep decision q_i depends only on
    whether the label was flipped, never on the features, so the kept synthetic samples are K ~ Bin(m, alpha) iid
    draws of the synthetic distribution, a fraction eps rho/alpha of them with flipped labels; pruned samples
    contribute nothing. With N = n + m and N' = n + K, the estimator satisfies exactly
        w = (S/N + gam I)^{-1} b/N = (S/N' + gam (N/N') I)^{-1} b/N',
    and K/m -> alpha. Hence m' = alpha m, eps' = eps rho / alpha (so lam' = lam/alpha, alpha' = 1) and
    gam' = gam (n + m)/(n + alpha m). For alpha = 0 (nothing kept): m' = 0, eps' = 0.
    In the fixed point this is the same as dropping the factor alpha from delta_s: a kept sample enters the
    resolvent's self-energy as q/(1 + q delta') with mean alpha/(1 + delta'), delta' = tr(C Q)/N, while the published
    formulas use alpha/(1 + alpha delta') (the value for a soft weight alpha on every synthetic sample).
    """
    alpha, _ = pruning_constants(eps, rho, phi)
    if alpha <= 0:
        return 0.0, 0.0, gam * (n + m) / n if n > 0 else gam
    return alpha * m, eps * rho / alpha, gam * (n + m) / (n + alpha * m)


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def general_moments(n: float, m: float, c, mu_vec, mu_b_vec, eps: float, rho: float, phi: float, gam: float,
                    variant: str = "corrected") -> dict[str, float]:
    """Theorem A (general synthetic mean mu_b and covariance C): limiting M, V and signed accuracy.

    ``variant="published"``: the formula of the authors' code / notes 1.2, documented in ``_published_general``
    (fixed point D_j = gam + pi/(1+delta) + alpha(1-pi) c_j/(1+delta_s), delta = (1/N) sum 1/D_j,
    delta_s = (alpha/N) sum c_j/D_j, then Qbar, M, V as written there). It is exact when nothing is pruned
    (alpha = 1) and off by an amount that does not shrink with p when alpha < 1.
    ``variant="corrected"`` (default): the same formula without pruning, evaluated at the reduced problem of
    :func:`subsample_reduction` (m' = alpha m, eps' = eps rho/alpha, rho = phi = 1, gam' = gam (n+m)/(n+alpha m)).
    Equivalently: delta_s = (1/N) sum_j c_j/D_j (no factor alpha) in the fixed point, everything else as published
    after the substitution.
    Symbols, assumptions and source as ``_published_general`` (El Firdoussi et al., arXiv:2410.08942, general
    theorem); correction derived in :func:`subsample_reduction`. Returns dict(M, V, acc, delta, delta_s).
    """
    _check_variant(variant)
    if variant == "published":
        return _published_general(n, m, c, mu_vec, mu_b_vec, eps, rho, phi, gam)
    m2, eps2, gam2 = subsample_reduction(n, m, eps, rho, phi, gam)
    return _published_general(n, m2, c, mu_vec, mu_b_vec, eps2, 1.0, 1.0, gam2)


def model_moments(n: float, m: float, p: int, mu: float, beta: float, mu_perp: float, sigma2: float, kappa: float,
                  eps: float, rho: float, phi: float, gam: float, variant: str = "corrected") -> dict[str, float]:
    """Theorem A for the checks' synthetic model: C = :func:`two_level_spectrum` (sigma2, kappa) and mu, mu_b from
    :func:`mean_vectors` (||mu||, beta, ||mu_perp||). Depends on n, m, p only through p/N and n/N (the spectrum and
    mean geometry scale with p), so (p, n, m) and (2p, 2n, 2m) give the same value (p even). See
    :func:`general_moments` (``variant``).
    """
    c = two_level_spectrum(p, sigma2, kappa)
    mu_vec, mu_b_vec = mean_vectors(p, mu, beta, mu_perp)
    return general_moments(n, m, c, mu_vec, mu_b_vec, eps, rho, phi, gam, variant)


def toy_moments(n: float, m: float, p: float, nhat: float, mu: float, eps: float, rho: float, phi: float, gam: float,
                variant: str = "corrected") -> dict[str, float]:
    """Theorem B (toy: synthetic mean mu, covariance C = Z Z^T/nhat estimated from nhat samples): M, V, signed acc.

    ``variant="published"``: ``_published_toy`` (authors' code / notes 1.3; delta_s = alpha delta/(1+delta_bar)).
    ``variant="corrected"`` (default): the published formula at the reduced problem of :func:`subsample_reduction`
    (exact for alpha = 1; there it is MC-confirmed). Source: El Firdoussi et al., arXiv:2410.08942, toy theorem.
    Returns dict(M, V, acc, delta, delta_s, delta_bar) (the deltas of the reduced problem).
    """
    _check_variant(variant)
    if variant == "published":
        return _published_toy(n, m, p, nhat, mu, eps, rho, phi, gam)
    m2, eps2, gam2 = subsample_reduction(n, m, eps, rho, phi, gam)
    return _published_toy(n, m2, p, nhat, mu, eps2, 1.0, 1.0, gam2)


def synthetic_only_moments(m: float, p: float, mu: float, eps: float, rho: float, phi: float, gam: float,
                           variant: str = "corrected") -> dict[str, float]:
    """Theorem C (synthetic data only: n = 0, mu_b = mu, C = I, N = m): M, V and signed accuracy in closed form.

    ``variant="published"``: ``_published_synthetic_only`` (authors' code / notes 1.4).
    ``variant="corrected"`` (default), from :func:`subsample_reduction` with n = 0 (m' = alpha m, gam' = gam/alpha,
    alpha' = 1, lam' = lam/alpha), with eta' = p/(alpha m) and g = gam/alpha:
        delta = [eta' - 1 - g + sqrt((1 + g - eta')^2 + 4 eta' g)] / (2 g)
        D = ||mu||^2 + 1 + g(1+delta),   M = (lam/alpha)||mu||^2 / D,   h = 1 - eta'/(1 + g(1+delta))^2,
        V = ((lam/alpha)||mu||)^2/(h D) [(||mu||^2 + 1)/D - 2(1-h)] + (1-h)/h,   acc = Phi(M/sqrt(V - M^2)).
    Both variants have sign(M) = sign(lam), hence the crossing of 1/2 at eps* = phi/(phi+rho), and the same sharp
    limit Phi(sign(lam)||mu||) as p/m -> 0 (Feng et al., arXiv:2406.07515); they differ at finite p/m (by ~10% in M
    at p/m = 1, rho = 0.3, phi = 0.8). Needs gam > 0 and alpha > 0.
    """
    _check_variant(variant)
    if variant == "published":
        return _published_synthetic_only(m, p, mu, eps, rho, phi, gam)
    alpha, _ = pruning_constants(eps, rho, phi)
    if gam <= 0 or alpha <= 0:
        raise ValueError("Theorem C needs gam > 0 and alpha = phi(1-eps) + rho eps > 0")
    m2, eps2, gam2 = subsample_reduction(0.0, m, eps, rho, phi, gam)
    return _published_synthetic_only(m2, p, mu, eps2, 1.0, 1.0, gam2)


def feng_limit(eps: float, mu: float, rho: float, phi: float) -> float:
    """Sharp (p/m -> 0) limit of the synthetic-only signed accuracy: Phi(||mu||) for eps < eps*, Phi(-||mu||) for
    eps > eps*, 1/2 at eps* (Feng et al., arXiv:2406.07515, recovered from Theorem C; notes 1.4 and 5.1
    [DERIVED+MC])."""
    _, lam = pruning_constants(eps, rho, phi)
    return float(norm.cdf(np.sign(lam) * mu))


# ----------------------------------------------------------------------------------------------------------------
# Simulators (JAX)
# ----------------------------------------------------------------------------------------------------------------
#
# Statistic-level samplers work in arrays of static size p but simulate a problem of dimension p_active <= p (a
# traced integer-valued scalar; default p): coordinates >= p_active carry no data (zero rows/columns of X^T X, zero
# X^T y), so the ridge solution is exactly 0 there and the active block has exactly the law of the p_active-dimensional
# problem. One compiled program therefore serves every size up to p (the checks use it for their Richardson pairs).


def _geometry(p: int, p_active, mu, beta, mu_perp, sigma2, kappa, dtype):
    """Active mask, mu, mu_b (:func:`mean_vectors` geometry) and the diagonal of C (:func:`two_level_spectrum`) for
    the p_active-dimensional problem embedded in R^p (traced p_active; the half h = p_active // 2)."""
    idx = jnp.arange(p)
    act = idx < p_active
    h = jnp.floor(p_active / 2.0)
    fidx = idx.astype(dtype)
    s = 1.0 / math.sqrt(2.0)
    u = s * ((fidx == 0) | (fidx == h)).astype(dtype)
    v = s * (fidx == 1).astype(dtype) - s * (fidx == h + 1).astype(dtype)
    mu_vec = mu * u
    mu_b = beta * mu * u + mu_perp * v
    c = jnp.where(fidx < h, sigma2 * (1.0 + kappa), sigma2 * (1.0 - kappa))
    c = jnp.where(act, c, 1.0).astype(dtype)
    return act, mu_vec, mu_b, c


def _stats(w, mu_vec):
    wm = jnp.dot(w, mu_vec)
    w2 = jnp.dot(w, w)
    acc = jax.scipy.stats.norm.cdf(wm / jnp.sqrt(w2))
    return {"acc": acc, "mean": wm, "second": wm**2 + w2}


def _solve_ridge(gram, rhs, big_n, gam):
    """w = (gram/N + gam I)^{-1} rhs/N through a Cholesky factorisation."""
    p = gram.shape[0]
    a = gram / big_n + gam * jnp.eye(p, dtype=gram.dtype)
    chol = jax.scipy.linalg.cho_factor(a, lower=True)
    return jax.scipy.linalg.cho_solve(chol, rhs / big_n)


def _solve_ridge_factor(g, rhs, big_n, gam):
    """w = (G G^T/N + gam I)^{-1} rhs/N for a p x k factor G of X^T X: the whole Gram in one matmul (on CPU the
    cost of this sampler is passes over p x p arrays, so every term of X^T X is a column block of G)."""
    p = g.shape[0]
    a = (g / jnp.sqrt(big_n)) @ (g / jnp.sqrt(big_n)).T + gam * jnp.eye(p, dtype=g.dtype)
    chol = jax.scipy.linalg.cho_factor(a, lower=True)
    return jax.scipy.linalg.cho_solve(chol, rhs / big_n)


def bartlett_wishart(key, p: int, df, dtype=jnp.float64, p_active=None):
    """Lower-triangular L with L L^T ~ Wishart_d(df, I_d) in its leading d x d block (d = p_active, default p; zero
    elsewhere), by the Bartlett decomposition; df and p_active traced integer-valued scalars.

    L_ii^2 ~ chi^2(df - i) for i < min(df, d), L_ij ~ N(0, 1) for i > j with j < df, all independent, and every
    column j >= df is zero: for df < d this is the singular Wishart (rank df) G^T G, G ∈ R^{df×d} (the LQ
    decomposition of G^T has exactly this law); df <= 0 gives L = 0. p^2/2 normals and p chi-squares.
    Source: Bartlett (1933); e.g. Muirhead, Aspects of Multivariate Statistical Theory (1982), Thm 3.2.14.
    """
    k_n, k_c = jax.random.split(key)
    # One fused select: below-diagonal entry (i, j) is N(0, 1) when i < d and j < min(df, d), else 0.
    return _bartlett_from(standard_normal(k_n, (p, p), dtype), k_c, p, df, dtype, p_active)


def bartlett_wishart_pair(key, p: int, df1, df2, dtype=jnp.float64, p_active=None):
    """Two independent Bartlett factors (as :func:`bartlett_wishart`, degrees of freedom ``df1`` and ``df2``) from
    one p x p block of normals: the first takes the strictly lower triangle of the block, the second the strictly
    upper triangle (transposed), which are disjoint sets of independent N(0, 1) entries. Half the normal draws of two
    separate calls; the chi-square diagonals are drawn separately. Same law as two :func:`bartlett_wishart` calls
    with independent keys (not the same numbers)."""
    k_n, k_c1, k_c2 = jax.random.split(key, 3)
    z = standard_normal(k_n, (p, p), dtype)
    return (_bartlett_from(z, k_c1, p, df1, dtype, p_active),
            _bartlett_from(z.T, k_c2, p, df2, dtype, p_active))


def _bartlett_from(z, k_c, p: int, df, dtype, p_active):
    """The Bartlett factor whose below-diagonal entries are those of ``z`` (only the strictly lower triangle of z is
    read) and whose diagonal is drawn from ``k_c``."""
    df = jnp.asarray(df, dtype)
    d = jnp.asarray(p if p_active is None else p_active, dtype)
    fidx = jnp.arange(p).astype(dtype)
    chi_df = df - fidx
    active = (chi_df > 0.5) & (fidx < d)
    chi2 = 2.0 * jax.random.gamma(k_c, jnp.where(active, 0.5 * chi_df, 1.0), dtype=dtype)
    diag = jnp.where(active, jnp.sqrt(chi2), 0.0)
    rows, cols = fidx[:, None], fidx[None, :]
    lower = (rows > cols) & (rows < d) & (cols < jnp.minimum(df - 0.5, d))
    return jnp.where(lower, z, jnp.where(rows == cols, diag[:, None], 0.0))


def _counts(key, m, eps, rho, phi, dtype):
    """(k1, k2): kept synthetic samples with correct / flipped labels, a multinomial draw from m with probabilities
    ((1-eps) phi, eps rho, rest), sampled as k1 ~ Bin(m, (1-eps)phi), k2 | k1 ~ Bin(m - k1, eps rho/(1-(1-eps)phi))."""
    k1_key, k2_key = jax.random.split(key)
    p1 = (1.0 - eps) * phi
    p2 = eps * rho
    k1 = jax.random.binomial(k1_key, m, jnp.clip(p1, 0.0, 1.0), dtype=dtype)
    rest = 1.0 - p1
    cond = jnp.where(rest > 0, p2 / jnp.where(rest > 0, rest, 1.0), 0.0)
    k2 = jax.random.binomial(k2_key, m - k1, jnp.clip(cond, 0.0, 1.0), dtype=dtype)
    return k1, k2


def _synthetic_block(key, p: int, m, eps, rho, phi, act, p_active, dtype, draw_factor: bool = True):
    """Sufficient statistics of the kept synthetic samples in whitened coordinates (before C^{1/2} and mu_b).

    Kept sample i: y_i x~_i = mu_b + xi_i, xi_i = C^{1/2} zeta_i; its contribution is q_i x~x~^T = (mu_b+xi)(mu_b+xi)^T
    and q_i y~_i x~_i = s_i (mu_b + xi_i), s_i = +1 (correct label) or -1 (flipped). With K = k1 + k2 kept and
    d = k1 - k2 = sum s_i, rotate the K-dimensional sample axis onto an orthonormal basis whose first vector is
    1/sqrt K and whose second spans the rest of s: then, exactly in distribution,
        sum zeta zeta^T = zeta_a zeta_a^T [K>=1] + zeta_b zeta_b^T [K>=2] + W,  W ~ Wishart(K-2, I),
        sum zeta = sqrt(K) zeta_a,   sum s zeta = (d/sqrt K) zeta_a + sqrt(K - d^2/K) zeta_b,
    with zeta_a, zeta_b ~ N(0, I) and W independent (when all kept labels agree, s ∝ 1 and zeta_b only completes
    W to Wishart(K-1)). Returns (K, d, L_W, zeta_a, zeta_b), L_W the Bartlett factor of W (None when
    ``draw_factor`` is false: the caller draws it, with K - 2 degrees of freedom).
    """
    k_c, k_a, k_b, k_w = jax.random.split(key, 4)
    k1, k2 = _counts(k_c, m, eps, rho, phi, dtype)
    kk = k1 + k2
    d = k1 - k2
    za = standard_normal(k_a, (p,), dtype) * ((kk > 0.5) & act)
    zb = standard_normal(k_b, (p,), dtype) * ((kk > 1.5) & act)
    lw = bartlett_wishart(k_w, p, kk - 2.0, dtype, p_active) if draw_factor else None
    return kk, d, lw, za, zb


def _synthetic_factor(kk, d, s_a, s_b, mu_b):
    """Synthetic X^T X = v v^T + s_b s_b^T + (C^{1/2} L_W)(C^{1/2} L_W)^T and X^T y~ from the whitened statistics
    mapped through C^{1/2} (s_a = C^{1/2} zeta_a, s_b = C^{1/2} zeta_b): the mean terms complete a square,
    K mu_b mu_b^T + sqrt(K)(mu_b s_a^T + s_a mu_b^T) + s_a s_a^T = v v^T with v = sqrt(K) mu_b + s_a.
    Returns (v, X^T y~) with X^T y~ = d mu_b + (d/sqrt K) s_a + sqrt(K - d^2/K) s_b."""
    safe_k = jnp.maximum(kk, 1.0)
    v = jnp.sqrt(kk) * mu_b + s_a
    rhs = d * mu_b + (d / jnp.sqrt(safe_k)) * s_a + jnp.sqrt(jnp.maximum(kk - d**2 / safe_k, 0.0)) * s_b
    return v, rhs


def _real_block(key, p: int, n, mu_vec, act, p_active, dtype, draw_factor: bool = True):
    """Real data X^T X = u u^T + L L^T (returns u, the Bartlett factor L and X^T y), exactly in distribution: with
    y_i x_i = mu + z'_i (z'_i = y_i z_i ~ N(0, I)), rotate the
    sample axis so that its first basis vector is y/sqrt n: X^T X = u u^T + W, X^T y = sqrt(n) u with
    u = sqrt(n) mu + z_1, z_1 ~ N(0, I), W ~ Wishart(n-1, I) independent. (Class balance is irrelevant: only
    ||y||^2 = n enters.) n = 0 gives zeros. ``draw_factor`` false: L is None (the caller draws it, n - 1
    degrees of freedom)."""
    k_u, k_w = jax.random.split(key)
    on = (n > 0.5).astype(dtype)
    u = (jnp.sqrt(n) * mu_vec + standard_normal(k_u, (p,), dtype) * act) * on
    lw = bartlett_wishart(k_w, p, n - 1.0, dtype, p_active) if draw_factor else None
    return u, lw, jnp.sqrt(n) * u


def _mix_trial(key, *, p: int, mode: str, p_active, n, m, nhat, toy, mu, beta, mu_perp, sigma2, kappa, eps, rho,
               phi, gam, dtype):
    """One statistic-level trial of the real + synthetic model. ``mode`` (static): "general" (C diagonal,
    two-level; mu_b = beta mu + mu_perp), "toy" (C = Z Z^T/nhat fresh, mu_b = mu) or "either" (both computed,
    chosen by the traced flag ``toy`` > 1/2: one program for both theorems)."""
    p_active = jnp.round(jnp.asarray(p if p_active is None else p_active, dtype))
    n = jnp.round(jnp.asarray(n, dtype))
    m = jnp.round(jnp.asarray(m, dtype))
    k_r, k_s, k_c, k_w = jax.random.split(key, 4)
    act, mu_vec, mu_b_gen, c = _geometry(p, p_active, mu, beta, mu_perp, sigma2, kappa, dtype)
    u_r, _, rhs_r = _real_block(k_r, p, n, mu_vec, act, p_active, dtype, draw_factor=False)
    kk, d, _, za, zb = _synthetic_block(k_s, p, m, eps, rho, phi, act, p_active, dtype, draw_factor=False)
    # Both Wishart factors from one p x p block of normals (the draws are the sampler's main cost on CPU).
    lr, lw = bartlett_wishart_pair(k_w, p, n - 1.0, kk - 2.0, dtype, p_active)
    if mode == "general":
        root_c = jnp.sqrt(c)
        sa, sb, lcw, mu_b = root_c * za, root_c * zb, root_c[:, None] * lw, mu_b_gen
    else:
        nhat = jnp.round(jnp.asarray(nhat, dtype))
        # C^{1/2} := L_C/sqrt(nhat) with L_C L_C^T ~ Wishart(nhat, I) (a square root of C = Z Z^T/nhat).
        chalf = bartlett_wishart(k_c, p, nhat, dtype, p_active) / jnp.sqrt(jnp.maximum(nhat, 1.0))
        if mode == "either":
            is_toy = toy > 0.5
            chalf = jnp.where(is_toy, chalf, jnp.diag(jnp.sqrt(c)))
            mu_b = jnp.where(is_toy, mu_vec, mu_b_gen)
        else:
            mu_b = mu_vec
        sa, sb, lcw = chalf @ za, chalf @ zb, chalf @ lw
    v, rhs_s = _synthetic_factor(kk, d, sa, sb, mu_b)
    # X^T X = G G^T with G = [u_r, v, s_b, L_r, C^{1/2} L_W]: one matmul.
    g = jnp.concatenate([u_r[:, None], v[:, None], sb[:, None], lr, lcw], axis=1)
    w = _solve_ridge_factor(g, rhs_r + rhs_s, n + m, gam)
    return _stats(w, mu_vec)


def simulate_accuracy(key, *, p: int, n, m, mu, beta, mu_perp, sigma2, kappa, eps, rho, phi, gam, p_active=None,
                      dtype=jnp.float64):
    """One trial of the real + synthetic ridge classifier (Theorem A's model), statistic level (fast sampler).

    Model: real mean mu and synthetic mean mu_b from :func:`mean_vectors` (||mu|| = ``mu``, ``beta``, ||mu_perp||),
    synthetic covariance C = diag(:func:`two_level_spectrum` (``sigma2``, ``kappa``)); label noise ``eps``; keep
    probabilities ``phi`` (correct label) / ``rho`` (flipped); ridge ``gam``; normalisation N = n + m (m before
    pruning). X^T X and X^T y are drawn from their exact joint law (``_real_block``, ``_synthetic_block``): two
    Bartlett Wishart factors (sharing one p x p block of normals), four N(0, I_p) vectors and two binomial counts
    per trial instead of (n + m) p normals.
    Arguments: ``p`` static int (>= 4); ``n`` (>= 0), ``m`` (>= 0), ``p_active`` (4 <= p_active <= p, default p:
    the dimension simulated inside arrays of size p) integer-valued traced scalars; the rest traced scalars.
    Returns per-trial {"acc": Phi(w.mu/||w||) (signed test accuracy given w), "mean": w.mu (= E[g|w, y=+1]),
    "second": (w.mu)^2 + ||w||^2 (= E[g^2|w])}. Agrees in distribution with :func:`simulate_accuracy_data`.
    Source: El Firdoussi et al. arXiv:2410.08942 setting (notes 1.1); sampler derived here (DESIGN.md, "simulate the
    statistic"). jit with static_argnames=("p", "dtype").
    """
    return _mix_trial(key, p=p, mode="general", p_active=p_active, n=n, m=m, nhat=1.0, toy=0.0, mu=mu, beta=beta,
                      mu_perp=mu_perp, sigma2=sigma2, kappa=kappa, eps=eps, rho=rho, phi=phi, gam=gam, dtype=dtype)


def simulate_toy(key, *, p: int, n, m, nhat, mu, eps, rho, phi, gam, p_active=None, dtype=jnp.float64):
    """One trial of Theorem B's toy model, statistic level: synthetic mean = mu, synthetic covariance
    C = Z Z^T/nhat (Z ∈ R^{p×nhat} iid N(0,1), drawn afresh per trial, independent of the training data).

    C is drawn as L_C L_C^T/nhat with L_C a Bartlett factor of Wishart(nhat, I) (rank min(nhat, p)); synthetic
    noise xi = L_C zeta/sqrt(nhat) has covariance C, so sum xi xi^T = L_C (sum zeta zeta^T) L_C^T / nhat. ``p``
    static; n, m, nhat, p_active integer-valued traced scalars. Outputs as :func:`simulate_accuracy`; agrees in
    distribution with :func:`simulate_toy_data`.
    """
    return _mix_trial(key, p=p, mode="toy", p_active=p_active, n=n, m=m, nhat=nhat, toy=1.0, mu=mu, beta=1.0,
                      mu_perp=0.0, sigma2=1.0, kappa=0.0, eps=eps, rho=rho, phi=phi, gam=gam, dtype=dtype)


def simulate_mixed_model(key, *, p: int, toy, n, m, nhat, mu, beta, mu_perp, sigma2, kappa, eps, rho, phi, gam,
                         p_active=None, dtype=jnp.float64):
    """:func:`simulate_accuracy` (``toy`` = 0) or :func:`simulate_toy` (``toy`` = 1) chosen by a traced flag, so one
    compiled program serves both theorems' sweeps (both samplers run; the flag selects C^{1/2} and mu_b). Arguments
    as those two functions; unused ones are ignored."""
    return _mix_trial(key, p=p, mode="either", p_active=p_active, n=n, m=m, nhat=nhat, toy=toy, mu=mu, beta=beta,
                      mu_perp=mu_perp, sigma2=sigma2, kappa=kappa, eps=eps, rho=rho, phi=phi, gam=gam, dtype=dtype)


def simulate_synthetic_only(key, *, p: int, m, mu, eps, rho, phi, gam, p_active=None, dtype=jnp.float64):
    """One trial of the synthetic-only classifier (Theorem C's model: n = 0, mu_b = mu, C = I, N = m), statistic
    level: one Bartlett factor (K - 2 degrees of freedom), two normal vectors, two binomial counts; cost ~p^3,
    independent of m (so p/m -> 0 is cheap). Same outputs as :func:`simulate_accuracy` (which it equals in
    distribution with n=0, beta=1, mu_perp=0, sigma2=1, kappa=0). ``p`` static; the rest (and ``p_active``) traced.
    """
    p_active = jnp.round(jnp.asarray(p if p_active is None else p_active, dtype))
    m = jnp.round(jnp.asarray(m, dtype))
    act, mu_vec, _, _ = _geometry(p, p_active, mu, 1.0, 0.0, 1.0, 0.0, dtype)
    kk, d, lw, za, zb = _synthetic_block(key, p, m, eps, rho, phi, act, p_active, dtype)
    v, rhs = _synthetic_factor(kk, d, za, zb, mu_vec)
    g = jnp.concatenate([v[:, None], zb[:, None], lw], axis=1)
    w = _solve_ridge_factor(g, rhs, m, gam)
    return _stats(w, mu_vec)


# --- data-level reference simulators ----------------------------------------------------------------------------


def _data_level(key, real_x, real_y, syn_mean, syn_noise_fn, m: int, eps, rho, phi, gam, mu_vec, dtype):
    k_y, k_noise, k_f, k_q = jax.random.split(key, 4)
    n = real_x.shape[0]
    y_s = jnp.where(jnp.arange(m) < m // 2, -1.0, 1.0).astype(dtype)  # synthetic true labels, balanced
    x_s = y_s[:, None] * syn_mean[None, :] + syn_noise_fn(k_noise, m)
    flip = jax.random.bernoulli(k_f, eps, (m,))
    y_tilde = jnp.where(flip, -y_s, y_s)
    u = jax.random.uniform(k_q, (m,), dtype)
    q = jnp.where(flip, u < rho, u < phi).astype(dtype)
    big_n = n + m
    xq = x_s * q[:, None]
    gram = real_x.T @ real_x + xq.T @ x_s
    rhs = real_x.T @ real_y + xq.T @ y_tilde
    w = _solve_ridge(gram, rhs, jnp.asarray(big_n, dtype), gam)
    return _stats(w, mu_vec)


def _real_data(key, n: int, mu_vec, dtype):
    p = mu_vec.shape[0]
    y = jnp.where(jnp.arange(n) < n // 2, -1.0, 1.0).astype(dtype)  # exactly balanced, as the authors' code
    x = y[:, None] * mu_vec[None, :] + jax.random.normal(key, (n, p), dtype)
    return x, y


def simulate_accuracy_data(key, *, p: int, n: int, m: int, mu, beta, mu_perp, sigma2, kappa, eps, rho, phi, gam,
                           dtype=jnp.float64):
    """Reference data-level simulator of :func:`simulate_accuracy` (same model, same outputs): draws the n real samples
    x_i = y_i mu + z_i (labels exactly balanced) and m synthetic samples x~_i = y_i mu_b + C^{1/2} z~_i, flips each
    label with probability eps, keeps it with probability phi (label correct) or rho (flipped), and solves the ridge
    system with both sums divided by N = n + m (m counted before pruning), exactly as the authors' ``utils.py``
    (``generate_data``, ``classifier_vector``). ``p``, ``n``, ``m`` static ints; the rest traced. Cost ~(n + m) p^2.
    """
    k_r, k_s = jax.random.split(key)
    _, mu_vec, mu_b, c = _geometry(p, p, mu, beta, mu_perp, sigma2, kappa, dtype)
    root_c = jnp.sqrt(c)
    real_x, real_y = _real_data(k_r, n, mu_vec, dtype)
    return _data_level(k_s, real_x, real_y, mu_b,
                       lambda k, size: jax.random.normal(k, (size, p), dtype) * root_c[None, :],
                       m, eps, rho, phi, gam, mu_vec, dtype)


def simulate_toy_data(key, *, p: int, n: int, m: int, nhat: int, mu, eps, rho, phi, gam, dtype=jnp.float64):
    """Reference data-level simulator of :func:`simulate_toy`: Z ∈ R^{p×nhat} iid N(0,1), C = Z Z^T/nhat (fresh each
    trial), synthetic noise Z g/sqrt(nhat) with g ~ N(0, I_nhat) (works for nhat < p), synthetic mean mu, then labels,
    pruning and the N = n + m ridge as :func:`simulate_accuracy_data`. ``p, n, m, nhat`` static ints."""
    k_r, k_z, k_s = jax.random.split(key, 3)
    _, mu_vec, _, _ = _geometry(p, p, mu, 1.0, 0.0, 1.0, 0.0, dtype)
    z = jax.random.normal(k_z, (p, nhat), dtype)
    real_x, real_y = _real_data(k_r, n, mu_vec, dtype)
    return _data_level(k_s, real_x, real_y, mu_vec,
                       lambda k, size: jax.random.normal(k, (size, nhat), dtype) @ z.T / math.sqrt(nhat),
                       m, eps, rho, phi, gam, mu_vec, dtype)
