def mlp_forward(x, W1, b1, W2, b2):
    """Return softmax(relu(x @ W1 + b1) @ W2 + b2), shape (n, k)."""
    # TODO
    raise NotImplementedError
