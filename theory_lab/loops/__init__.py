"""Self-consuming training loops: theory (float64 NumPy/SciPy) and JAX simulators, side by side.

``gaussian_refit``: 1-D Gaussian fit-and-resample (Shumailov et al. 2023, arXiv:2305.17493), pure and with a fixed
fraction of fresh real data (Bertrand et al. 2023, arXiv:2310.00429). Formulas: notes section 4e. The other modules
(categorical, gaussian_refit_d, tv_mixing, icl_retraining) are imported by name.
"""

from . import gaussian_refit
from .gaussian_refit import *  # noqa: F401,F403  (the public names are the module's __all__)

__all__ = gaussian_refit.__all__
