import numpy as np


def mlp_forward(x, W1, b1, W2, b2):
    h = np.maximum(0, x @ W1 + b1)
    z = h @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
