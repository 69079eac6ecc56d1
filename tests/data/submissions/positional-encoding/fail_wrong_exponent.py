import numpy as np


def sinusoidal_positional_encoding(n_positions, d_model):
    p = np.arange(n_positions)[:, None]
    j = np.arange(d_model)[None, :]
    angle = p / 10000 ** (j / d_model)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
