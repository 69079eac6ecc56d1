def scaled_dot_product_attention(Q, K, V, mask=None):
    """Return (output, weights) of scaled dot-product attention.

    Q: (..., n_q, d_k), K: (..., n_k, d_k), V: (..., n_k, d_v); mask: bool, True = may attend.
    """
    # TODO
    raise NotImplementedError
