import numpy as np


def mlp_forward(x, W1, b1, W2, b2):
    z = np.maximum(0, x @ W1 + b1) @ W2 + b2
    z = z - z.max(axis=0, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)
