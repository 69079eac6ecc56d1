import numpy as np


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1])
    w = np.exp(scores)
    if mask is not None:
        w = w * mask
    w = w / w.sum(axis=-1, keepdims=True)
    return w @ V, w
