"""Score-based data pruning on a symmetric Gaussian mixture: the pruned-measure limit theory and a JAX simulator.

Toy model (declared here; the claim checked is the qualitative theorem of Ayed & Hayou, not a formula of theirs):

* **Data.** n iid pairs (x_i, y_i): y_i = ±1 with probability 1/2, x_i = y_i mu + z_i, z_i ~ N(0, I_d), mu = m e_1
  (||mu|| = m > 0; by rotation invariance e_1 is no loss of generality). The Bayes classifier is sign(mu . x) with
  accuracy Phi(m).
* **Classifier.** Weighted ridge (least squares on the ±1 labels) with penalty lam >= 0:
  w = argmin (1/W) sum_i omega_i (y_i - w.x_i)^2 + lam ||w||^2,  W = sum_i omega_i,  i.e.
  w = (X^T Omega X / W + lam I)^{-1} X^T Omega y / W  (omega_i = 0 for pruned points).
  Its test accuracy on a fresh (x, y) is exact given w: P(y w.x > 0) = Phi(<w, mu> / ||w||), reported SIGNED (a
  classifier pointing the wrong way has accuracy < 1/2; no max(acc, 1 - acc)).
* **Reference model** for the scores: the same ridge fitted on all n points ("full-data", as EL2N uses a model
  trained on the full data) or the true direction mu ("oracle", the fixed score function of the population theory).
* **Scores and pruning at keep ratio r** (k = round(r n) points kept):
    - ``random``: k points uniformly at random.
    - ``label_aware``: EL2N hardness |sigmoid(w0.x) - (1+y)/2| = sigmoid(-y w0.x), keep the k HARDEST (largest
      EL2N = smallest signed margin y w0.x). Uses the label.
    - ``label_agnostic``: margin |w0.x|, keep the k closest to the reference boundary. Does not use the label.
    - ``mix``: the (1 - alpha) k hardest by EL2N plus alpha k chosen uniformly from the rest, unweighted.
    - ``calibrated``: the same kept set, with importance weights: 1 on the hard part and (n - k_s)/k_r on the random
      part (k_s, k_r its sizes), so the weighted pruned loss is an unbiased estimate of the full-data loss
      (Horvitz–Thompson). ``full``: no pruning.

Population theory (derived here). Write s = y (u . x) with u = mu/m: s ~ N(m, 1) independently of y, and
x_perp (the other d - 1 coordinates) is N(0, I) independently of (y, s). With the oracle reference every score
above is a function of s alone (EL2N ranks by s, the margin by |s| = |u . x|), so as n -> infinity the weighted
pruned empirical measure converges to nu_r with density on s

    f_nu(s) = pi(s) omega(s) phi(s - m) / Z,     Z = E[pi(s) omega(s)],

where pi is the inclusion probability and omega the weight (``pieces``): random pi = r; label_aware
1{s <= m + Phi^{-1}(r)}; label_agnostic 1{|s| <= q}, P(|s| <= q) = r; mix/calibrated 1{s <= q_rho} plus
alpha r / (1 - rho) above it (rho = (1 - alpha) r), with omega = (1 - rho)/(alpha r) there for calibrated (which
makes nu_r = the full law exactly). Pruned ERM converges to the minimiser under nu_r (Ayed & Hayou's mechanism):
by symmetry in x_perp and convexity its x_perp part is 0 and

    w_inf = c u,   c = E_nu[s] / (E_nu[s^2] + lam),

so the limiting signed accuracy is Phi(m sign(E_nu[s])): Bayes when E_nu[s] > 0, FLIPPED (Phi(-m)) when E_nu[s] < 0.
(For any loss l(y w.x), convex with l'(0) < 0, the sign of c is that of E_nu[s] as well.) For label_aware,
E_nu[s] = m - phi(Phi^{-1}(r))/r, so the limit flips iff r < r*(m), the root of phi(Phi^{-1}(r)) = m r
(``flip_threshold``; r*(1) = 0.38109). Random, label_agnostic and calibrated are consistent (E_nu[s] > 0).

Source: F. Ayed & S. Hayou, "Data pruning and neural scaling laws: fundamental limitations of score-based
algorithms", TMLR 2023, arXiv:2302.06960 — random pruning is a strong baseline and score-based pruning fails in the
high-compression regime (keep <= 30%), through the pruned-measure limit nu_r ("No Free Lunch"), and randomisation
("calibration protocols") repairs it. Only the abstract was read (notes ``rmt_and_self_consuming_loops.md``
section 5.2, mechanism [MEM]); the toy, its closed forms and the delta-method terms below are derived here and
checked by Monte Carlo in ``tests/test_pruning.py``. The calibration used here (random fill-in with
Horvitz–Thompson weights) is our construction, not a transcription of the paper's protocol.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, stats

from theory_lab.gaussian import standard_normal

__all__ = [
    "METHODS",
    "bayes_accuracy",
    "pieces",
    "pruned_moments",
    "pruned_minimiser",
    "limit_accuracy",
    "flip_threshold",
    "agnostic_quantile",
    "delta_method",
    "accuracy_of",
    "simulate_pruning",
]

#: Order of the per-trial output vectors of :func:`simulate_pruning`.
METHODS = ("full", "random", "label_aware", "label_agnostic", "mix", "calibrated")


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy/SciPy)
# ----------------------------------------------------------------------------------------------------------------


def bayes_accuracy(m):
    """Bayes accuracy Phi(m) of the symmetric mixture y mu + N(0, I), m = ||mu|| (the classifier sign(mu . x))."""
    return stats.norm.cdf(np.asarray(m, dtype=np.float64))


def accuracy_of(w, mu):
    """Signed test accuracy Phi(<w, mu>/||w||) of sign(w . x) on the mixture; exact given w. Batched over w's rows."""
    w = np.asarray(w, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    return stats.norm.cdf(w @ mu / np.linalg.norm(w, axis=-1))


def agnostic_quantile(r: float, m: float) -> float:
    """q > 0 with P(|s| <= q) = Phi(q - m) - Phi(-q - m) = r, s ~ N(m, 1): the label-agnostic margin cut."""
    if not 0 < r < 1:
        return math.inf if r >= 1 else 0.0
    f = lambda q: stats.norm.cdf(q - m) - stats.norm.cdf(-q - m) - r  # noqa: E731
    return float(optimize.brentq(f, 0.0, m + 40.0, xtol=1e-14, rtol=1e-14))


def pieces(method: str, r: float, m: float, alpha: float = 0.5) -> list[tuple[float, float, float, float]]:
    """The pruning rule's limit as intervals of s = y (u . x): a list of (a, b, pi, omega).

    On a < s <= b a point is kept with probability pi and given weight omega. See the module docstring; rho =
    (1 - alpha) r is the hard part of mix/calibrated and q_rho = m + Phi^{-1}(rho) its cut (-inf when alpha = 1).
    """
    inf = math.inf
    if method == "full" or r >= 1:
        return [(-inf, inf, 1.0, 1.0)]
    if method == "random":
        return [(-inf, inf, r, 1.0)]
    if method == "label_aware":
        return [(-inf, m + float(stats.norm.ppf(r)), 1.0, 1.0)]
    if method == "label_agnostic":
        q = agnostic_quantile(r, m)
        return [(-q, q, 1.0, 1.0)]
    if method in ("mix", "calibrated"):
        rho = (1.0 - alpha) * r
        q = m + float(stats.norm.ppf(rho)) if rho > 0 else -inf
        pi_rest = alpha * r / (1.0 - rho)
        omega_rest = 1.0 if method == "mix" else (1.0 - rho) / (alpha * r)
        return [(-inf, q, 1.0, 1.0), (q, inf, pi_rest, omega_rest)]
    raise ValueError(f"unknown method {method!r}; one of {METHODS}")


def _interval_moments(a: float, b: float, m: float, power_max: int = 4) -> np.ndarray:
    """int_a^b s^j phi(s - m) ds for j = 0..power_max (closed form through the moments of the standard normal:
    int_al^be z^j phi(z) dz = (j-1) I_{j-2} + al^{j-1} phi(al) - be^{j-1} phi(be), then binomial expansion in
    s = z + m). Infinite bounds contribute 0 boundary terms."""
    al, be = a - m, b - m
    if be <= al:
        return np.zeros(power_max + 1)

    def bterm(z: float, j: int) -> float:
        return 0.0 if math.isinf(z) else z ** (j - 1) * stats.norm.pdf(z)

    iz = np.zeros(power_max + 1)  # int z^j phi(z) over [al, be]
    iz[0] = stats.norm.cdf(be) - stats.norm.cdf(al)
    if power_max >= 1:
        iz[1] = (0.0 if math.isinf(al) else stats.norm.pdf(al)) - (0.0 if math.isinf(be) else stats.norm.pdf(be))
    for j in range(2, power_max + 1):
        iz[j] = (j - 1) * iz[j - 2] + bterm(al, j) - bterm(be, j)
    out = np.zeros(power_max + 1)
    for j in range(power_max + 1):
        out[j] = sum(math.comb(j, i) * m ** (j - i) * iz[i] for i in range(j + 1))
    return out


def pruned_moments(method: str, r: float, m: float, alpha: float = 0.5) -> dict[str, float]:
    """Moments of s under the limiting pruned measure nu_r, and the sampling-design moments.

    Returns Z = E[pi omega] (kept weight per data point), e1 = E_nu[s], e2 = E_nu[s^2], kept = E[pi] (the kept
    fraction, = r), and the design moments d_j = E[pi omega^2 s^j] / Z^2 (j = 0..4) used by the delta method.
    """
    z = e1 = e2 = kept = 0.0
    dj = np.zeros(5)
    for a, b, pi, om in pieces(method, r, m, alpha):
        mom = _interval_moments(a, b, m)
        z += pi * om * mom[0]
        e1 += pi * om * mom[1]
        e2 += pi * om * mom[2]
        kept += pi * mom[0]
        dj += pi * om * om * mom
    return {"Z": z, "e1": e1 / z, "e2": e2 / z, "kept": kept, "design": dj / z**2}


def pruned_minimiser(method: str, r: float, m: float, alpha: float = 0.5, lam: float = 0.0) -> float:
    """c in w_inf = c u: the ridge minimiser under nu_r, c = E_nu[s] / (E_nu[s^2] + lam) (module docstring).

    Its sign decides the limit: c > 0 consistent (Bayes accuracy), c < 0 flipped. Exact in the limit n -> inf with
    d, r, alpha fixed and the oracle reference (the full-data reference converges to it).
    """
    mo = pruned_moments(method, r, m, alpha)
    return float(mo["e1"] / (mo["e2"] + lam))


def limit_accuracy(method: str, r: float, m: float, alpha: float = 0.5) -> float:
    """Limiting signed accuracy Phi(m sign(E_nu[s])) of pruned ERM (1/2 when E_nu[s] = 0); independent of lam."""
    e1 = pruned_moments(method, r, m, alpha)["e1"]
    return float(stats.norm.cdf(m * np.sign(e1)))


def flip_threshold(m: float) -> float:
    """r*(m): keep-hardest EL2N pruning flips the limit classifier iff r < r*, the root of phi(Phi^{-1}(r)) = m r
    (E_nu[s] = m - phi(Phi^{-1}(r))/r = 0; phi(Phi^{-1}(r))/r decreases from +inf to 0 on (0, 1), so the root is
    unique). r*(1) = 0.381086."""
    f = lambda r: m - stats.norm.pdf(stats.norm.ppf(r)) / r  # noqa: E731
    return float(optimize.brentq(f, 1e-300, 1.0 - 1e-15, xtol=1e-15, rtol=1e-14))


def delta_method(method: str, r: float, m: float, d: int, n: int, alpha: float = 0.5, lam: float = 0.0
                 ) -> dict[str, float]:
    """Leading-order finite-n behaviour of the pruned ridge fit around its limit w_inf = c u (delta method).

    The fit solves (1/(nZ)) sum_i I_i omega_i psi_i(w) = 0 with psi = x(y - x.w) - lam w; its Jacobian is
    diag(e2 + lam, (1 + lam) I_{d-1}) and, treating inclusions as independent with probabilities pi (exact for
    random pruning; the deterministic score cut is handled to this order as if it were), the covariance of the mean
    estimating function gives
        var_perp = E[pi omega^2 (1 - c s)^2] / (n Z^2 (1 + lam)^2)    (each of the d - 1 orthogonal coordinates),
        var_c    = E[pi omega^2 (s(1 - c s) - lam c)^2] / (n Z^2 (e2 + lam)^2),
    and, expanding Phi(m w_1/||w||) to second order in w_perp (with E[1/c_hat^2] ~ (1 + 3 var_c/c^2)/c^2),
        E[Phi(m) - acc] ~ (m phi(m)/2) (d - 1) var_perp (1 + 3 var_c/c^2) / c^2     (for c > 0).
    Also k_eff = n Z^2 / E[pi omega^2] (Kish's effective sample size of the weighted kept set) and bias_c, the
    first-order ratio-estimator bias of c_hat, taken at lam = 0 where c_hat = sum I omega s / sum I omega s^2 (the
    orthogonal columns rescale numerator and denominator alike to first order): bias ~ (c var(D) - cov(N, D))/E[D]^2.
    Returns {"c", "sd_c", "var_perp", "gap", "k_eff", "bias_c"} ("gap" is nan when c <= 0).
    """
    mo = pruned_moments(method, r, m, alpha)
    c = mo["e1"] / (mo["e2"] + lam)
    dj = mo["design"]  # E[pi omega^2 s^j] / Z^2
    var_perp = (dj[0] - 2 * c * dj[1] + c * c * dj[2]) / (n * (1 + lam) ** 2)
    # (s(1 - cs) - lam c)^2 = s^2 - 2c s^3 + c^2 s^4 - 2 lam c (s - c s^2) + lam^2 c^2
    psi2 = (dj[2] - 2 * c * dj[3] + c * c * dj[4] - 2 * lam * c * (dj[1] - c * dj[2]) + lam**2 * c**2 * dj[0])
    var_c = psi2 / (n * (mo["e2"] + lam) ** 2)
    if c > 0:
        gap = m * stats.norm.pdf(m) / 2 * (d - 1) * var_perp * (1 + 3 * var_c / c**2) / c**2
    else:
        gap = math.nan
    # first-order ratio-estimator bias of c_hat = N/D at lam = 0, N = sum I omega s/(nZ), D = sum I omega s^2/(nZ):
    # Var(D) = (E[pi om^2 s^4]/Z^2 - e2^2)/n, Cov(N, D) = (E[pi om^2 s^3]/Z^2 - e1 e2)/n (independent inclusions)
    e1, e2 = mo["e1"], mo["e2"]
    var_d = (dj[4] - e2**2) / n
    cov_nd = (dj[3] - e1 * e2) / n
    bias_c = (e1 / e2 * var_d - cov_nd) / e2**2
    return {"c": float(c), "sd_c": float(math.sqrt(max(var_c, 0.0))), "var_perp": float(var_perp),
            "gap": float(gap), "k_eff": float(n / dj[0]), "bias_c": float(bias_c)}


# ----------------------------------------------------------------------------------------------------------------
# Simulator (JAX)
# ----------------------------------------------------------------------------------------------------------------


def _ridge(x, y, omega, lam):
    """Weighted ridge w = (X^T Omega X / W + lam I)^{-1} X^T Omega y / W (float64 solve of a d x d system)."""
    wsum = jnp.sum(omega)
    gram = (x * omega[:, None]).T @ x / wsum + lam * jnp.eye(x.shape[1], dtype=x.dtype)
    rhs = x.T @ (omega * y) / wsum
    return jnp.linalg.solve(gram, rhs)


def _smallest(values, k, iters: int = 64):
    """Mask of the k smallest entries of ``values`` (k traced; k = 0 gives an empty mask).

    Bisection on the threshold: after ``iters`` = 64 halvings of [min - 1, max] the bracket is below the float64
    spacing of the values, so ``values <= hi`` holds exactly the k smallest (ties have probability 0 here). About
    10x cheaper than a sort on CPU, and k stays a traced value (one compile serves every keep ratio).
    """
    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        enough = jnp.sum(values <= mid) >= k
        return jnp.where(enough, lo, mid), jnp.where(enough, mid, hi)

    lo, hi = jax.lax.fori_loop(0, iters, body, (jnp.min(values) - 1.0, jnp.max(values)))
    return (values <= hi) & (k > 0)


def _first(mask, k):
    """The first k entries (in index order) where ``mask`` holds. The data are iid and every score is a symmetric
    function of the sample, so given the kept-by-score set the index order is a uniformly random order: the first k
    of the remaining points ARE a uniform random k-subset of them (and the first k of all points a uniform random
    k-subset of the data). Exact in distribution, with no sort."""
    return mask & (jnp.cumsum(mask) <= k)


def simulate_pruning(key, *, n: int, d: int, m, r, alpha, lam, reference: str = "full-data",
                     dtype=jnp.float64):
    """One trial: draw the mixture, score, prune at keep ratio r by every method, refit, report accuracy and c.

    Model and methods: module docstring. mu = m e_1. k = round(r n) (at least 1), k_r = max(1, round(alpha k)) random
    fill-in points and k_s = k - k_r hardest for mix/calibrated. The reference model w0 is the full-data ridge
    (``reference="full-data"``) or e_1 (``"oracle"``); scores: EL2N sigmoid(-y w0.x) (ranked through the signed
    margin y w0.x, of which it is a strictly decreasing function, so no float saturation can tie ranks) and the
    margin |w0.x|. Random subsets are taken as the first points in index order (exact in distribution, see
    ``_first``); standard normals come from Box–Muller (``_normal``).
    Returns {"acc": (6,), "coef": (6,), "kept": (6,)} in the order of ``METHODS``: the signed accuracy
    Phi(m w_1/||w||), the fitted coefficient w_1 along mu/m (compare with ``pruned_minimiser``), and the number of
    kept points. Arguments: ``n``, ``d`` static ints; ``m`` (> 0), ``r`` in (0, 1], ``alpha`` in (0, 1], ``lam``
    (>= 0) traced scalars; ``reference`` static string; explicit PRNG ``key``.
    """
    if reference not in ("full-data", "oracle"):
        raise ValueError(f"reference must be 'full-data' or 'oracle', got {reference!r}")
    m = jnp.asarray(m, dtype=dtype)
    r = jnp.asarray(r, dtype=dtype)
    alpha = jnp.asarray(alpha, dtype=dtype)
    lam = jnp.asarray(lam, dtype=dtype)
    k_y, k_z = jax.random.split(key, 2)
    y = jnp.where(jax.random.bernoulli(k_y, 0.5, (n,)), 1.0, -1.0).astype(dtype)
    z = standard_normal(k_z, (n, d), dtype)
    e1 = jnp.zeros((d,), dtype=dtype).at[0].set(1.0)
    x = y[:, None] * (m * e1)[None, :] + z
    ones = jnp.ones((n,), dtype=dtype)

    w_full = _ridge(x, y, ones, lam)
    w0 = w_full if reference == "full-data" else e1
    margin = x @ w0
    signed = y * margin  # EL2N = sigmoid(-signed): hardest = smallest signed margin

    k = jnp.maximum(jnp.round(r * n), 1.0).astype(jnp.int32)
    k_r = jnp.maximum(jnp.round(alpha * k), 1.0).astype(jnp.int32)
    k_r = jnp.minimum(k_r, k)
    k_s = k - k_r

    everyone = jnp.ones((n,), dtype=bool)
    keep_random = _first(everyone, k)
    keep_aware = _smallest(signed, k)
    keep_agnostic = _smallest(jnp.abs(margin), k)
    hard = _smallest(signed, k_s)
    fill = _first(~hard, k_r)
    keep_mix = hard | fill
    ht = (n - k_s).astype(dtype) / k_r.astype(dtype)  # Horvitz–Thompson weight of a fill-in point

    masks = {
        "full": ones,
        "random": keep_random.astype(dtype),
        "label_aware": keep_aware.astype(dtype),
        "label_agnostic": keep_agnostic.astype(dtype),
        "mix": keep_mix.astype(dtype),
        "calibrated": hard.astype(dtype) + ht * fill.astype(dtype),
    }
    ws = [w_full] + [_ridge(x, y, masks[name], lam) for name in METHODS[1:]]
    w = jnp.stack(ws)  # (6, d)
    acc = jax.scipy.stats.norm.cdf(m * w[:, 0] / jnp.linalg.norm(w, axis=1))
    kept = jnp.stack([jnp.sum(masks[name] > 0).astype(dtype) for name in METHODS])
    return {"acc": acc, "coef": w[:, 0], "kept": kept}
