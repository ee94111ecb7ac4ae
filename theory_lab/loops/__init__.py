"""Self-consuming training loops: theory (float64 NumPy/SciPy) and JAX simulators, side by side.

``gaussian_refit``: 1-D Gaussian fit-and-resample (Shumailov et al. 2023, arXiv:2305.17493), pure and with a fixed
fraction of fresh real data (Bertrand et al. 2023, arXiv:2310.00429). Formulas: notes section 4e.
"""

from theory_lab.loops.gaussian_refit import (
    expected_log_var,
    expected_mean_drift_sq,
    expected_var,
    mixed_fixed_point,
    mixed_moments,
    simulate_gaussian_refit,
    simulate_gaussian_refit_fast,
    split_counts,
    var_log_var,
)

__all__ = [
    "expected_log_var",
    "var_log_var",
    "expected_mean_drift_sq",
    "expected_var",
    "split_counts",
    "mixed_moments",
    "mixed_fixed_point",
    "simulate_gaussian_refit",
    "simulate_gaussian_refit_fast",
]
