"""In-context regression: prompt generators, classical in-context estimators with exact risks, linear self-attention, a
small causal softmax transformer. One concept per module; importing the package has no side effects."""
