"""Infinite-width kernels (NNGP/NTK, analytic and empirical), residual width-depth limits, parametrizations
(SP/NTK/muP/Depth-muP), coordinate checks, deep-linear dynamics and LoRA toys. One concept per module; importing the
package has no side effects."""
