"""Random-matrix theory checks: Marchenko–Pastur law and (ridgeless) ridge regression with isotropic features.

Theory functions are float64 NumPy/SciPy; ``simulate_*`` functions are pure, jit-able JAX Monte-Carlo simulators
returning per-trial statistics (vmap them over PRNG keys).
"""

from .marchenko_pastur import (
    mp_atom,
    mp_bin_masses,
    mp_cdf,
    mp_density,
    mp_edges,
    mp_moments,
    mp_stieltjes,
    mp_stieltjes_derivative,
    simulate_esd,
    wishart_moments_finite,
)
from .ridge import ridge_risk, ridgeless_risk, ridgeless_risk_finite, simulate_ridge_risk

__all__ = [
    "mp_edges",
    "mp_density",
    "mp_atom",
    "mp_cdf",
    "mp_bin_masses",
    "mp_moments",
    "wishart_moments_finite",
    "mp_stieltjes",
    "mp_stieltjes_derivative",
    "simulate_esd",
    "ridgeless_risk",
    "ridgeless_risk_finite",
    "ridge_risk",
    "simulate_ridge_risk",
]
