"""Loss functions, as small pure functions of tensors.

All reductions are means over the batch (with ``sample_weight``, the mean of
the rows' weighted terms: weights of mean 1 make it an estimate of the
weighted mean); every function is written with
``log_softmax``/``logsumexp`` so that it stays finite at extreme similarities
and temperatures. Losses always compute in at least float32: under
``torch.autocast`` (``mixed_precision=True``) half-precision inputs are cast up
and autocast is switched off inside them, so only the networks run in
bfloat16.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._encoding import MISSING_CODE

_HALF_DTYPES = (torch.float16, torch.bfloat16)


def _in_full_precision(loss):
    """Run ``loss`` without autocast, on half-precision tensors cast to float32."""

    @functools.wraps(loss)
    def wrapper(*args, **kwargs):
        args = [_to_float32(a) for a in args]
        kwargs = {k: _to_float32(v) for k, v in kwargs.items()}
        device_type = next(
            (a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu"
        )
        with torch.autocast(device_type, enabled=False):
            return loss(*args, **kwargs)

    return wrapper


def _to_float32(value):
    if isinstance(value, torch.Tensor) and value.dtype in _HALF_DTYPES:
        return value.float()
    return value


@_in_full_precision
def info_nce(
    z1: Tensor, z2: Tensor, temperature: float, sample_weight: Tensor | None = None
) -> Tensor:
    """Symmetric InfoNCE / NT-Xent loss with in-batch negatives (SimCLR).

    Rows ``z1[i]`` and ``z2[i]`` are two views of the same sample. Each of the
    ``2B`` embeddings is an anchor whose positive is its twin and whose
    negatives are the other ``2B - 2`` embeddings of the batch; similarities
    are cosine similarities divided by ``temperature``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
    temperature : float
    sample_weight : Tensor of shape (B,), optional
        Weight of each row: its two anchors' terms are multiplied by it. The
        rows stay negatives of the other anchors whatever their weight.

    Returns
    -------
    loss : scalar Tensor
        Mean over the ``2B`` anchors of
        ``-log(exp(s_pos / t) / sum_{j != i} exp(s_ij / t))`` (each times its
        row's weight, with ``sample_weight``).
    """
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    anchor_weights = _anchor_weights(sample_weight, z.dtype)
    if torch.is_grad_enabled() and z.requires_grad:
        return _BlockedInfoNCE.apply(z, temperature, anchor_weights)
    return _blocked_info_nce(
        z, temperature, with_gradient=False, anchor_weights=anchor_weights
    )[0]


def _anchor_weights(sample_weight, dtype):
    """The weights of the ``2B`` anchors (each row's, twice), or None."""
    if sample_weight is None:
        return None
    return torch.cat([sample_weight, sample_weight]).to(dtype)


def _anchor_mean(per_anchor, sample_weight):
    """Mean of the ``2B`` anchors' terms, each times its row's weight."""
    return (per_anchor * _anchor_weights(sample_weight, per_anchor.dtype)).mean()


@_in_full_precision
def info_nce_cross_entropy(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """:func:`info_nce` written the standard way, as SimCLR implementations do.

    Cross-entropy over the full ``(2B, 2B)`` masked logits, differentiated by
    autograd. Same value and gradient as :func:`info_nce` up to rounding; it is
    the formulation the speed benchmark's reference loops use.
    """
    logits, positives, _, _ = _contrastive_logits(z1, z2, temperature)
    return F.cross_entropy(logits, positives)


# Rows of the similarity matrix processed at once: on the CPU a block of about
# 2**18 entries (1 MiB in float32) stays in a core's L2 cache, so the
# exponentials and the softmax never stream the whole (2B, 2B) matrix through
# memory; on a GPU a few large blocks keep the number of kernel launches low.
_CPU_BLOCK_ENTRIES = 2**18
_GPU_BLOCK_ENTRIES = 2**26


def _blocked_info_nce(
    z, temperature, with_gradient, block_entries=None, anchor_weights=None
):
    """InfoNCE of normalised embeddings ``z`` (2B, d), and its gradient.

    The (2B, 2B) logits are formed one block of anchor rows at a time; each
    block gives its anchors' log-sum-exp and positive logit and, with
    ``with_gradient``, its part of ``d loss / d z``. With ``P`` the softmax
    over candidates minus the one-hot positive, scaled by
    ``1 / (temperature * 2B)``, and the logits ``z z^T / temperature``
    symmetric, the gradient is ``(P + P^T) z``: per block of rows ``b``,
    ``grad[b] += P_b z`` and ``grad += P_b^T z_b``. These are the same three
    matrix products autograd would run, without the elementwise passes over
    the whole matrix (log-softmax, its backward, masking) that make large
    batches memory-bound.

    ``anchor_weights`` (2B,), if given, multiply each anchor's term (and its
    rows of ``P``).

    Returns
    -------
    loss : scalar Tensor
    gradient : Tensor of shape (2B, d), or None
    """
    n_anchors = z.shape[0]
    n = n_anchors // 2
    scale = 1.0 / temperature
    # d loss / d (z z^T) = (softmax - one_hot(positive)) * factor: the
    # 1 / temperature of the logits and the 1 / 2B of the mean.
    factor = scale / n_anchors
    positives = torch.arange(n_anchors, device=z.device).add_(n).remainder_(n_anchors)
    if block_entries is None:
        block_entries = _GPU_BLOCK_ENTRIES if z.is_cuda else _CPU_BLOCK_ENTRIES
    block_rows = max(1, min(n_anchors, block_entries // n_anchors))
    total = torch.zeros((), dtype=z.dtype, device=z.device)
    gradient = torch.zeros_like(z) if with_gradient else None
    for start in range(0, n_anchors, block_rows):
        stop = min(start + block_rows, n_anchors)
        anchors = z[start:stop]
        logits = torch.mm(anchors, z.T).mul_(scale)
        # An anchor against itself is never a candidate.
        logits.diagonal(offset=start).fill_(-math.inf)
        positive = positives[start:stop, None]
        positive_logits = logits.gather(1, positive)
        shift = logits.amax(dim=1, keepdim=True)
        weights = logits.sub_(shift).exp_()  # in place: logits are not needed again
        partition = weights.sum(dim=1, keepdim=True)
        terms = shift + partition.log() - positive_logits
        if anchor_weights is None:
            total += terms.sum()
            scaled = factor / partition
            positive_gradient = torch.full_like(positive_logits, -factor)
        else:
            block_weights = anchor_weights[start:stop, None]
            total += (terms * block_weights).sum()
            scaled = block_weights * factor / partition
            positive_gradient = block_weights * -factor
        if with_gradient:
            weights.mul_(scaled)
            weights.scatter_add_(1, positive, positive_gradient)
            gradient[start:stop].addmm_(weights, z)
            gradient.addmm_(weights.T, anchors)
    return total / n_anchors, gradient


class _BlockedInfoNCE(torch.autograd.Function):
    """InfoNCE whose gradient is computed with the loss, block by block.

    The loss is a scalar, so the gradient with respect to ``z`` is known in the
    forward pass; backward only scales it by the incoming gradient.
    """

    @staticmethod
    def forward(ctx, z, temperature, anchor_weights):
        loss, gradient = _blocked_info_nce(
            z, temperature, with_gradient=True, anchor_weights=anchor_weights
        )
        ctx.save_for_backward(gradient)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        (gradient,) = ctx.saved_tensors
        return gradient * grad_output, None, None


@_in_full_precision
def gaussian_nll(mean: Tensor, target: Tensor, observed: Tensor) -> Tensor:
    """Per-sample negative log-likelihood of ``target`` under N(mean, 1).

    Entries where ``observed`` is False are not penalised.

    Returns
    -------
    Tensor of shape (B,)
    """
    squared = (mean - target).square() + math.log(2 * math.pi)
    return 0.5 * (squared * observed).sum(dim=1)


@_in_full_precision
def categorical_nll(
    logits: Tensor, codes: Tensor, ignore_code: int = MISSING_CODE
) -> Tensor:
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


def reconstruction_nll(
    numeric_mean: Tensor,
    logits: Tensor | None,
    numeric: Tensor,
    observed: Tensor,
    categorical: Tensor,
) -> Tensor:
    """Per-sample negative log-likelihood of a row under the decoder's output.

    :func:`gaussian_nll` of the numeric columns plus, when the table has
    categorical columns (``logits`` not None), :func:`categorical_nll`.

    Returns
    -------
    Tensor of shape (B,)
    """
    nll = gaussian_nll(numeric_mean, numeric, observed)
    if logits is not None:
        nll = nll + categorical_nll(logits, categorical)
    return nll


@_in_full_precision
def gaussian_kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """Per-sample KL(N(mean, exp(log_var)) || N(0, I)).

    Returns
    -------
    Tensor of shape (B,)
    """
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(dim=1)


# ---------------------------------------------------------------------------
# Variants of the contrastive loss.
#
# They share ``info_nce``'s conventions: ``z1`` and ``z2`` are the projections
# of the two views, of shape (B, d), unnormalised (they are L2-normalised here);
# similarities are cosine similarities divided by ``temperature``; each of the
# ``2B`` embeddings is an anchor whose positive is its twin in the other view and
# whose candidates are the other ``2B - 1`` embeddings of the batch (the positive
# and ``2B - 2`` negatives); the result is a scalar, symmetric in the two views.
# ---------------------------------------------------------------------------


def _contrastive_logits(z1, z2, temperature):
    """Logits of the ``2B`` anchors against all embeddings, as in ``info_nce``.

    Returns
    -------
    logits : Tensor of shape (2B, 2B)
        ``cos(z_i, z_j) / temperature``, with the diagonal (an anchor against
        itself, never a candidate) set to ``-inf``.
    positives : LongTensor of shape (2B,)
        Column of each anchor's positive (its twin in the other view).
    self_mask : BoolTensor of shape (2B, 2B)
        The diagonal.
    z : Tensor of shape (2B, d)
        The normalised embeddings, ``z1`` rows first.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, -math.inf)
    positives = torch.cat(
        [torch.arange(n, 2 * n, device=z.device), torch.arange(0, n, device=z.device)]
    )
    return logits, positives, self_mask, z


@_in_full_precision
def balanced_info_nce(
    z1: Tensor,
    z2: Tensor,
    temperature: float,
    attraction_weight: float = 1.0,
    repulsion_weight: float = 1.0,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """InfoNCE with separately weighted attracting and repelling terms.

    "Understanding Self-supervised Contrastive Learning through Supervised
    Objectives" (B. Lee, TMLR 2025, arXiv:2510.10572) derives an InfoNCE-like
    loss from a prototype-based supervised objective, in which the other view
    stands in for the (unknown) class prototype of the anchor; the gap between
    the two is the prototype representation bias. The paper's balanced
    contrastive loss weights the attracting (positive-pair) and repelling
    (negative-pair) interactions separately. We implement that balancing as
    separate weights on the two terms of InfoNCE (our parameterisation; the
    paper uses its own symbols, and both reduce to InfoNCE at neutral
    weights):

    ``InfoNCE_i = -s_ii+ + logsumexp_{j != i} s_ij``,

    where ``s_ij = cos(z_i, z_j) / temperature`` and ``i+`` is the twin of
    ``i``; the log-sum-exp runs over the same candidate set as ``info_nce``
    (the positive included). The balanced loss is

    ``loss_i = -attraction_weight * s_ii+
    + repulsion_weight * logsumexp_{j != i} s_ij``,

    averaged over the ``2B`` anchors. The first term only pulls the positive
    pair together; the second pushes the anchor away from all candidates in
    proportion to their softmax weight (the positive receives part of that
    push, as in InfoNCE). ``attraction_weight = repulsion_weight = 1`` is
    exactly ``info_nce``; ``attraction_weight > repulsion_weight`` strengthens
    alignment, ``attraction_weight < repulsion_weight`` strengthens uniformity.
    For non-negative weights the loss is bounded below by
    ``-|attraction_weight - repulsion_weight| / temperature``, since
    ``logsumexp_{j != i} s_ij >= s_ii+``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
        Projections of the two views (unnormalised).
    temperature : float
    attraction_weight : float, default=1.0
        Weight of the positive-pair (attracting) term.
    repulsion_weight : float, default=1.0
        Weight of the log-partition (repelling) term.
    sample_weight : Tensor of shape (B,), optional
        Weight of each row's two anchors' terms, as for :func:`info_nce`.

    Returns
    -------
    loss : scalar Tensor
    """
    logits, positives, _, _ = _contrastive_logits(z1, z2, temperature)
    positive_logits = logits.gather(1, positives[:, None]).squeeze(1)
    log_partition = torch.logsumexp(logits, dim=1)
    per_anchor = -attraction_weight * positive_logits + repulsion_weight * log_partition
    if sample_weight is not None:
        return _anchor_mean(per_anchor, sample_weight)
    return per_anchor.mean()


def _log_mean_exp(x, keep=None):
    """``log(mean(exp(x)))`` over all entries, accurate also when ``x`` is tiny.

    Written as ``m + log1p(mean(expm1(x - m)))`` with ``m = max(x)``: no
    overflow at large ``x``, and no cancellation when all ``|x|`` are small (the
    case ``(alpha - 1) * s`` with ``alpha`` close to 1). ``keep``, a boolean
    mask of ``x``'s shape, restricts the mean to its True entries; masking
    rather than gathering ``x[keep]`` keeps shapes independent of the data, so
    a GPU never waits for the host to count the entries.
    """
    if keep is None:
        m = x.detach().max()
        return m + torch.log1p(torch.expm1(x - m).mean())
    m = x.detach().masked_fill(~keep, -math.inf).max()
    # Masked before expm1 (expm1(0) = 0), not after: an overflowing term
    # masked after would still send inf * 0 = NaN into the gradient.
    terms = torch.expm1((x - m).masked_fill(~keep, 0.0))
    return m + torch.log1p(terms.sum() / keep.sum())


@_in_full_precision
def renyi_contrastive(
    z1: Tensor,
    z2: Tensor,
    temperature: float,
    alpha: float = 2.0,
    gamma: float | None = None,
    per_anchor: bool = False,
) -> Tensor:
    """RényiCL loss: variational bound of a skew Rényi divergence.

    "RényiCL: Contrastive Representation Learning with Skew Rényi Divergence"
    (K. Lee and J. Shin, NeurIPS 2022, arXiv:2208.06270). The critic is
    ``f = s_ij = cos(z_i, z_j) / temperature``. ``P`` is the distribution of
    positive pairs (an anchor and its twin), ``Q`` that of negative pairs (an
    anchor and any embedding other than itself and its twin), and
    ``Q_gamma = gamma * P + (1 - gamma) * Q`` is the skewed reference. The
    Rényi divergence of order ``alpha`` has the variational lower bound

    ``R_alpha(P || Q_gamma) >= alpha / (alpha - 1) * log E_P[e^((alpha - 1) f)]
    - log E_{Q_gamma}[e^(alpha f)]``,

    and the loss is minus this bound divided by ``alpha``:

    ``loss = -1 / (alpha - 1) * log mean_i exp((alpha - 1) s_ii+)
    + 1 / alpha * log(gamma * mean_i exp(alpha s_ii+)
    + (1 - gamma) * mean_{i, j neg} exp(alpha s_ij))``,

    where means run over the ``2B`` positive pairs and the ``2B (2B - 2)``
    negative pairs of the batch. Its gradient has the form of the official
    implementation's surrogate loss (there, with a momentum encoder and
    cross-view negatives only): positives are weighted by
    ``softmax((alpha - 1) s+)`` (easy positives count more when ``alpha > 1``)
    and negatives by ``softmax(alpha s-)`` (hard-negative weighting).
    Skewing (``gamma > 0``) bounds the density ratio ``dP/dQ_gamma`` by
    ``1 / gamma``, which is what keeps the estimator's variance, and
    training, stable for ``alpha > 1``.

    Notation: here ``alpha`` is the order and ``gamma`` the skew; the
    official code (github.com/kyungmnlee/RenyiCL) names them the other way
    round (order ``gamma``, default 2; skew ``alpha``, default ``2**-16``).

    Limits. As ``alpha -> 1`` the first term tends to ``-mean_i s_ii+`` and the
    loss to the Donsker-Varadhan bound of the skew KL divergence,
    ``-mean_i s_ii+ + log(gamma mean e^{s+} + (1 - gamma) mean e^{s-})``
    (``alpha == 1`` is evaluated in closed form). With ``per_anchor=True``
    each anchor is its own batch (one positive, its ``2B - 2`` negatives):

    ``loss_i = -s_ii+ + 1 / alpha * log(gamma exp(alpha s_ii+)
    + (1 - gamma) mean_{j neg} exp(alpha s_ij))``,

    and at ``alpha = 1``, ``gamma = 1 / (2B - 1)`` this is exactly
    ``info_nce - log(2B - 1)``: InfoNCE is the per-anchor skew-KL special
    case. With the default batch-level estimate and the same ``alpha`` and
    ``gamma`` the loss is the "pooled" InfoNCE (log outside the mean over
    anchors) minus ``log(2B - 1)``, which is ``>= info_nce - log(2B - 1)``
    by Jensen's inequality, with equality when all anchors have the same
    partition function.

    The value is a negated divergence bound, not a cross-entropy: it may be
    negative.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
        Projections of the two views (unnormalised); ``B >= 2``.
    temperature : float
    alpha : float, default=2.0
        Order of the Rényi divergence, ``> 0`` (the official default is 2).
    gamma : float in [0, 1], default=None
        Skew. ``None`` means ``1 / (2B - 1)``: the weight the positive has
        among an anchor's ``2B - 1`` candidates, as in InfoNCE.
    per_anchor : bool, default=False
        False: the batch-level estimate of the paper and its official code.
        True: the per-anchor (conditional) estimate described above.

    Returns
    -------
    loss : scalar Tensor
    """
    n = z1.shape[0]
    if n < 2:
        raise ValueError("renyi_contrastive needs at least 2 samples per view.")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}.")
    if gamma is None:
        gamma = 1.0 / (2 * n - 1)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}.")
    log_gamma = math.log(gamma) if gamma > 0 else -math.inf
    log_one_minus_gamma = math.log1p(-gamma) if gamma < 1 else -math.inf

    logits, positives, self_mask, _ = _contrastive_logits(z1, z2, temperature)
    positive_logits = logits.gather(1, positives[:, None]).squeeze(1)
    negative_mask = self_mask.clone()
    negative_mask[torch.arange(2 * n, device=logits.device), positives] = True
    negative_logits = logits.masked_fill(negative_mask, -math.inf)
    n_negatives = 2 * n - 2

    if per_anchor:
        attraction = positive_logits
        log_mean_negative = torch.logsumexp(alpha * negative_logits, dim=1) - math.log(
            n_negatives
        )
        mixture = torch.stack(
            [
                alpha * positive_logits + log_gamma,
                log_mean_negative + log_one_minus_gamma,
            ]
        )
        repulsion = torch.logsumexp(mixture, dim=0) / alpha
        return (repulsion - attraction).mean()

    if alpha == 1:
        attraction = positive_logits.mean()
    else:
        attraction = _log_mean_exp((alpha - 1) * positive_logits) / (alpha - 1)
    mixture = torch.stack(
        [
            _log_mean_exp(alpha * positive_logits) + log_gamma,
            _log_mean_exp(alpha * logits, keep=~negative_mask) + log_one_minus_gamma,
        ]
    )
    repulsion = torch.logsumexp(mixture, dim=0) / alpha
    return repulsion - attraction


@_in_full_precision
def self_labeling_info_nce(
    z1: Tensor,
    z2: Tensor,
    temperature: float,
    refinement: float = 0.5,
    target_temperature: float | None = None,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """InfoNCE against self-labelling-refined soft labels (SLR).

    Self-labelling refinery of "A Theory-Driven Self-Labeling Refinement Method
    for Contrastive Representation Learning" (P. Zhou, C. Xiong, X.-T. Yuan and
    S. Hoi, NeurIPS 2021, arXiv:2106.14749). The one-hot instance label of
    InfoNCE is wrong whenever a "negative" is semantically close to the anchor.
    SLR estimates the anchor's similarity to its candidates through its
    positive (another view of the same sample) and mixes that estimate into
    the label:

    ``target_i = (1 - beta) * onehot(i+) + beta * softmax_j(s'_{i+ j})``,

    ``s'_{i+ j} = cos(z_{i+}, z_j) / target_temperature`` over anchor ``i``'s
    candidates ``j != i`` (the positive included, where ``s'_{i+ i+}`` is the
    largest similarity), computed without gradient. The loss is the
    cross-entropy of the anchor's softmax over its candidates,
    ``softmax_j(s_ij)``, against that target, averaged over the ``2B``
    anchors. ``refinement = 0`` is exactly ``info_nce``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
        Projections of the two views (unnormalised).
    temperature : float
    refinement : float in [0, 1], default=0.5
        ``beta``, the weight of the estimated similarities in the target.
    target_temperature : float, default=None
        Temperature of the estimated similarities; ``None`` uses
        ``temperature``.
    sample_weight : Tensor of shape (B,), optional
        Weight of each row's two anchors' terms, as for :func:`info_nce`.

    Returns
    -------
    loss : scalar Tensor
    """
    if not 0.0 <= refinement <= 1.0:
        raise ValueError(f"refinement must be in [0, 1], got {refinement!r}.")
    if target_temperature is None:
        target_temperature = temperature
    logits, positives, self_mask, z = _contrastive_logits(z1, z2, temperature)
    with torch.no_grad():
        # A comparison, not F.one_hot, which reads the indices' range back to
        # the host (a GPU synchronisation every step).
        candidates = torch.arange(logits.shape[1], device=logits.device)
        one_hot = (positives[:, None] == candidates).to(logits.dtype)
        # Row i: the positive of anchor i against anchor i's candidates.
        estimated = (z[positives] @ z.T) / target_temperature
        estimated = estimated.masked_fill(self_mask, -math.inf).softmax(dim=1)
        targets = (1.0 - refinement) * one_hot + refinement * estimated
    log_probs = logits.log_softmax(dim=1).masked_fill(self_mask, 0.0)
    if sample_weight is not None:
        return _anchor_mean(-(targets * log_probs).sum(dim=1), sample_weight)
    return -(targets * log_probs).sum(dim=1).mean()


def momentum_mixup(
    q_inputs: Tensor,
    k_inputs: Tensor,
    theta: float | Tensor,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Mix each query input with the positive (key) input of another sample.

    Momentum mixup (MM) of Zhou et al., NeurIPS 2021 (arXiv:2106.14749):
    the virtual query

    ``x~_i = theta_i * q_i + (1 - theta_i) * k_{perm(i)}``

    keeps a large share of its own sample, so it stays similar to its own
    positive ``k_i`` and also becomes similar to ``k_{perm(i)}``; its label is
    ``theta_i * onehot(i) + (1 - theta_i) * onehot(perm(i))``
    (:func:`mixup_targets`). Train with :func:`soft_target_info_nce` of the
    encoded virtual queries against the encoded keys.

    Parameters
    ----------
    q_inputs, k_inputs : float Tensor of shape (B, ...)
        Encoder inputs of the query view and of the key (positive) view; row
        ``i`` of both come from sample ``i``.
    theta : float or Tensor of shape (B,)
        Share of the query, in [0, 1]. Large values (e.g. ``max(l, 1 - l)``
        with ``l ~ Beta(k, k)``) keep the query dominant.
    generator : torch.Generator, optional
        Draws the permutation (on the generator's device).

    Returns
    -------
    mixed : Tensor, same shape as ``q_inputs``
    perm : LongTensor of shape (B,)
        ``perm[i]`` is the sample whose key was mixed into query ``i``.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x1, x2 = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    >>> mixed, perm = momentum_mixup(x1, x2, 0.75, generator=g)
    >>> targets = mixup_targets(0.75, perm)
    >>> mixed.shape, targets.shape, targets.sum(dim=1).tolist()
    (torch.Size([4, 3]), torch.Size([4, 4]), [1.0, 1.0, 1.0, 1.0])
    >>> loss = soft_target_info_nce(mixed, x2, targets, temperature=0.5)
    """
    n = q_inputs.shape[0]
    if k_inputs.shape != q_inputs.shape:
        raise ValueError(
            f"q_inputs and k_inputs must have the same shape, got "
            f"{tuple(q_inputs.shape)} and {tuple(k_inputs.shape)}."
        )
    theta = torch.as_tensor(theta, dtype=q_inputs.dtype, device=q_inputs.device)
    if theta.dim() not in (0, 1) or (theta.dim() == 1 and theta.shape[0] != n):
        raise ValueError(f"theta must be a scalar or of shape ({n},).")
    if bool(((theta < 0) | (theta > 1)).any()):
        raise ValueError("theta must be in [0, 1].")
    return mix_with_permuted_keys(q_inputs, k_inputs, theta, generator)


def mix_with_permuted_keys(
    q_inputs: Tensor,
    k_inputs: Tensor,
    theta: Tensor,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`momentum_mixup` without validating its arguments.

    For the training loop, whose ``theta`` is in ``[0.5, 1]`` by construction:
    checking a tensor's range reads it back to the host, which on a GPU waits
    for the device every step. ``theta`` is a Tensor of shape ``()`` or
    ``(B,)`` on ``q_inputs``' device.
    """
    n = q_inputs.shape[0]
    device = generator.device if generator is not None else q_inputs.device
    perm = torch.randperm(n, generator=generator, device=device).to(q_inputs.device)
    if theta.dim() == 1:
        theta = theta.reshape((n,) + (1,) * (q_inputs.dim() - 1))
    mixed = theta * q_inputs + (1.0 - theta) * k_inputs[perm]
    return mixed, perm


def mixup_targets(theta: float | Tensor, perm: Tensor) -> Tensor:
    """Soft labels of :func:`momentum_mixup`'s virtual queries.

    Parameters
    ----------
    theta : float or Tensor of shape (B,)
    perm : LongTensor of shape (B,)

    Returns
    -------
    targets : Tensor of shape (B, B)
        ``theta_i * onehot(i) + (1 - theta_i) * onehot(perm[i])``; each row
        sums to 1 (a row with ``perm[i] == i`` is ``onehot(i)``).
    """
    n = perm.shape[0]
    dtype = theta.dtype if torch.is_tensor(theta) else torch.get_default_dtype()
    theta = torch.as_tensor(theta, dtype=dtype, device=perm.device)
    theta = theta.reshape(-1, 1) if theta.dim() == 1 else theta
    eye = torch.eye(n, dtype=dtype, device=perm.device)
    return theta * eye + (1.0 - theta) * eye[perm]


@_in_full_precision
def soft_target_info_nce(
    queries: Tensor,
    keys: Tensor,
    targets: Tensor,
    temperature: float,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """Cross-entropy of queries' softmax over keys against soft labels.

    ``loss = mean_i -sum_j targets_ij * log softmax_j(cos(q_i, k_j) / t)``.
    With ``targets = eye(B)`` it is the one-directional (query-to-key) InfoNCE
    with the ``B`` keys of the batch as candidates. Used for momentum mixup
    (arXiv:2106.14749) with :func:`mixup_targets`. Not symmetric: queries and
    keys play different roles.

    Parameters
    ----------
    queries : Tensor of shape (B, d)
        Projections of the (virtual) queries (unnormalised).
    keys : Tensor of shape (M, d)
        Projections of the candidates (unnormalised); in MM the positive
        view of each sample, usually detached (the paper's keys come from a
        momentum encoder, without gradient).
    targets : Tensor of shape (B, M)
        Non-negative rows summing to 1.
    temperature : float
    sample_weight : Tensor of shape (B,), optional
        Weight of each query's term.

    Returns
    -------
    loss : scalar Tensor
    """
    queries = F.normalize(queries, dim=1)
    keys = F.normalize(keys, dim=1)
    log_probs = ((queries @ keys.T) / temperature).log_softmax(dim=1)
    if sample_weight is not None:
        per_query = -(targets.to(log_probs.dtype) * log_probs).sum(dim=1)
        return (per_query * sample_weight.to(per_query.dtype)).mean()
    return -(targets.to(log_probs.dtype) * log_probs).sum(dim=1).mean()
