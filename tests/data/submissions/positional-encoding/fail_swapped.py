import numpy as np


def sinusoidal_positional_encoding(n_positions, d_model):
    p = np.arange(n_positions)[:, None]
    j = np.arange(d_model)[None, :]
    angle = p / 10000 ** (2 * (j // 2) / d_model)
    return np.where(j % 2 == 0, np.cos(angle), np.sin(angle))
