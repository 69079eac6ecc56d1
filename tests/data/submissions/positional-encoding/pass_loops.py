import math


def sinusoidal_positional_encoding(n_positions, d_model):
    pe = []
    for p in range(n_positions):
        row = []
        for j in range(d_model):
            angle = p / 10000 ** (2 * (j // 2) / d_model)
            row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
        pe.append(row)
    return pe
