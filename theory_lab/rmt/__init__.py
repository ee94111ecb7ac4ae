"""Random-matrix theory checks: Marchenko–Pastur law and (ridgeless) ridge regression with isotropic features.

Theory functions are float64 NumPy/SciPy; ``simulate_*`` functions are pure, jit-able JAX Monte-Carlo simulators
returning per-trial statistics (vmap them over PRNG keys). The other modules (spiked, random_features,
synthetic_mix, pruning) are imported by name.
"""

from . import marchenko_pastur, ridge
from .marchenko_pastur import *  # noqa: F401,F403  (the public names are each module's __all__)
from .ridge import *  # noqa: F401,F403

__all__ = marchenko_pastur.__all__ + ridge.__all__
