"""Loss functions, as small pure functions of tensors.

All reductions are means over the batch; every function is written with
``log_softmax``/``logsumexp`` so that it stays finite at extreme similarities
and temperatures.
"""

import math

import torch
import torch.nn.functional as F


def info_nce(z1, z2, temperature):
    """Symmetric InfoNCE / NT-Xent loss with in-batch negatives (SimCLR).

    Rows ``z1[i]`` and ``z2[i]`` are two views of the same sample. Each of the
    ``2B`` embeddings is an anchor whose positive is its twin and whose
    negatives are the other ``2B - 2`` embeddings of the batch; similarities
    are cosine similarities divided by ``temperature``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
    temperature : float

    Returns
    -------
    loss : scalar Tensor
        Mean over the ``2B`` anchors of
        ``-log(exp(s_pos / t) / sum_{j != i} exp(s_ij / t))``.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, -math.inf)
    positives = torch.cat(
        [torch.arange(n, 2 * n, device=z.device), torch.arange(0, n, device=z.device)]
    )
    return F.cross_entropy(logits, positives)


def gaussian_nll(mean, target, observed):
    """Per-sample negative log-likelihood of ``target`` under N(mean, 1).

    Entries where ``observed`` is False are not penalised.

    Returns
    -------
    Tensor of shape (B,)
    """
    squared = (mean - target).square() + math.log(2 * math.pi)
    return 0.5 * (squared * observed).sum(dim=1)


def categorical_nll(logits, codes, ignore_code=0):
    """Per-sample cross-entropy summed over categorical columns.

    Parameters
    ----------
    logits : Tensor of shape (B, n_columns, n_slots)
    codes : LongTensor of shape (B, n_columns)
        Target codes; ``ignore_code`` (missing) is not penalised.

    Returns
    -------
    Tensor of shape (B,)
    """
    per_entry = F.cross_entropy(
        logits.transpose(1, 2), codes, ignore_index=ignore_code, reduction="none"
    )
    return per_entry.sum(dim=1)


def gaussian_kl(mean, log_var):
    """Per-sample KL(N(mean, exp(log_var)) || N(0, I)).

    Returns
    -------
    Tensor of shape (B,)
    """
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(dim=1)
