def sinusoidal_positional_encoding(n_positions, d_model):
    """Return the (n_positions, d_model) sinusoidal positional-encoding matrix."""
    # TODO
    raise NotImplementedError
