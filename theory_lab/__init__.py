"""theory_lab: numerical verification of machine-learning theory.

A *claim check* puts a theorem's prediction next to a JIT-compiled Monte-Carlo simulation of the same quantity
and returns a verdict (PASS / FAIL / INCONCLUSIVE) that could have gone the other way. See ``claims`` for the
check type, ``rules`` for the tolerance rules, ``sweep`` for batched execution and ``store`` for results on disk.
Importing the package has no side effects (no JAX configuration, no file I/O).
"""

__version__ = "0.1.0"
