"""The suite of claim checks: one module per paper or result family, each registering its checks on import.

Find a claim's pieces: ``proofs_checks/<module>.py`` (declaration, tolerance, negative control) imports its theory
and simulator from ``theory_lab/<family>/`` and names its figure script in ``figures/``.
"""

# random-matrix classifiers (and the 1-D Gaussian refit of the foundation)
from proofs_checks import gaussian_refit  # noqa: F401
from proofs_checks import marchenko_pastur  # noqa: F401
from proofs_checks import hmrt_ridgeless  # noqa: F401
from proofs_checks import random_features  # noqa: F401
from proofs_checks import pruning  # noqa: F401
from proofs_checks import synthetic_mix  # noqa: F401
from proofs_checks import bbp  # noqa: F401

# infinite-width kernels
from proofs_checks import nngp_ntk  # noqa: F401
from proofs_checks import beyond_iid  # noqa: F401
from proofs_checks import lazy_training  # noqa: F401
from proofs_checks import resnet_width_depth  # noqa: F401
from proofs_checks import deep_linear  # noqa: F401
from proofs_checks import edim_oscillation  # noqa: F401

# feature-learning parametrizations and LoRA
from proofs_checks import mup_width_coord  # noqa: F401
from proofs_checks import depth_mup_coord  # noqa: F401
from proofs_checks import depth_mup_transfer  # noqa: F401
from proofs_checks import lora_plus  # noqa: F401
from proofs_checks import lora_init  # noqa: F401
from proofs_checks import hrp_init  # noqa: F401

# in-context transformers
from proofs_checks import lsa_global_min  # noqa: F401
from proofs_checks import lsa_is_gd  # noqa: F401
from proofs_checks import lsa_multilayer  # noqa: F401
from proofs_checks import task_diversity  # noqa: F401

# self-consuming loops
from proofs_checks import wright_fisher  # noqa: F401
from proofs_checks import partial_synthetic  # noqa: F401
from proofs_checks import tv_contraction  # noqa: F401
from proofs_checks import gaussian_refit_d  # noqa: F401
from proofs_checks import icl_retraining  # noqa: F401
