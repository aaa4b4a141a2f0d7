"""The softmax baseline: a pre-layer-norm Transformer language model of the same shape."""
