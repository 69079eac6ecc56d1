import torch


def sinusoidal_positional_encoding(n_positions, d_model):
    # float32, as torch code usually is
    pos = torch.arange(n_positions).unsqueeze(1).float()
    j = torch.arange(d_model)
    angle = pos / torch.pow(10000.0, (2 * (j // 2)).float() / d_model)
    return torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle))
