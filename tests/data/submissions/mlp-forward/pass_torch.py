import torch


def mlp_forward(x, W1, b1, W2, b2):
    x, W1, b1, W2, b2 = (torch.as_tensor(a) for a in (x, W1, b1, W2, b2))
    return torch.softmax(torch.relu(x @ W1 + b1) @ W2 + b2, dim=1)
