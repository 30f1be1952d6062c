"""Contrastive loss variants against hand-written formulas and limits."""

import math

import numpy as np
import pytest
import torch

from skssl import losses


def _views(n=5, d=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=dtype)
    z2 = z1 + 0.5 * torch.randn(n, d, generator=g, dtype=dtype)
    return z1, z2


# -- Reference formulas: plain loops over anchors, numpy float64 --------------


def _cosines(z1, z2):
    z = np.concatenate([z1.numpy(), z2.numpy()]).astype(np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    return z @ z.T


def _twin(i, n):
    return (i + n) % (2 * n)


def _weight(w, i, n):
    """The weight of anchor (or query) ``i``: its row's, 1 without weights."""
    return 1.0 if w is None else float(w[i % n])


def _ref_info_nce(z1, z2, t, w=None):
    n = z1.shape[0]
    s = _cosines(z1, z2) / t
    total = 0.0
    for i in range(2 * n):
        denominator = sum(math.exp(s[i, j]) for j in range(2 * n) if j != i)
        term = -math.log(math.exp(s[i, _twin(i, n)]) / denominator)
        total += _weight(w, i, n) * term
    return total / (2 * n)


def _ref_balanced(z1, z2, t, a, r, w=None):
    n = z1.shape[0]
    s = _cosines(z1, z2) / t
    total = 0.0
    for i in range(2 * n):
        partition = sum(math.exp(s[i, j]) for j in range(2 * n) if j != i)
        term = -a * s[i, _twin(i, n)] + r * math.log(partition)
        total += _weight(w, i, n) * term
    return total / (2 * n)


def _ref_renyi(z1, z2, t, alpha, gamma, per_anchor):
    n = z1.shape[0]
    s = _cosines(z1, z2) / t
    pos = [s[i, _twin(i, n)] for i in range(2 * n)]
    neg = [
        [s[i, j] for j in range(2 * n) if j not in (i, _twin(i, n))]
        for i in range(2 * n)
    ]
    if per_anchor:
        total = 0.0
        for i in range(2 * n):
            mean_neg = np.mean([math.exp(alpha * v) for v in neg[i]])
            mix = gamma * math.exp(alpha * pos[i]) + (1 - gamma) * mean_neg
            total += -pos[i] + math.log(mix) / alpha
        return total / (2 * n)
    if alpha == 1:
        attraction = np.mean(pos)
    else:
        mean_pos = np.mean([math.exp((alpha - 1) * v) for v in pos])
        attraction = math.log(mean_pos) / (alpha - 1)
    all_neg = [v for row in neg for v in row]
    mix = gamma * np.mean([math.exp(alpha * v) for v in pos]) + (1 - gamma) * np.mean(
        [math.exp(alpha * v) for v in all_neg]
    )
    return -attraction + math.log(mix) / alpha


def _ref_self_labeling(z1, z2, t, beta, t_target, w=None):
    n = z1.shape[0]
    c = _cosines(z1, z2)
    total = 0.0
    for i in range(2 * n):
        p = _twin(i, n)
        candidates = [j for j in range(2 * n) if j != i]
        partition = sum(math.exp(c[i, j] / t) for j in candidates)
        estimated = sum(math.exp(c[p, j] / t_target) for j in candidates)
        for j in candidates:
            target = (1 - beta) * (j == p) + beta * math.exp(c[p, j] / t_target) / (
                estimated
            )
            log_prob = math.log(math.exp(c[i, j] / t) / partition)
            total -= _weight(w, i, n) * target * log_prob
    return total / (2 * n)


def _ref_soft_target(q, k, targets, t, w=None):
    q = q.numpy() / np.linalg.norm(q.numpy(), axis=1, keepdims=True)
    k = k.numpy() / np.linalg.norm(k.numpy(), axis=1, keepdims=True)
    targets = targets.numpy()
    total = 0.0
    for i in range(q.shape[0]):
        logits = [float(q[i] @ k[j]) / t for j in range(k.shape[0])]
        log_partition = math.log(sum(math.exp(v) for v in logits))
        for j in range(k.shape[0]):
            total -= (
                _weight(w, i, q.shape[0]) * targets[i, j] * (logits[j] - log_partition)
            )
    return total / q.shape[0]


# -- Hand formulas -------------------------------------------------------------


def test_reference_matches_existing_info_nce():
    z1, z2 = _views()
    assert losses.info_nce(z1, z2, 0.5).item() == pytest.approx(
        _ref_info_nce(z1, z2, 0.5), rel=1e-12
    )


@pytest.mark.parametrize("a, r", [(1.0, 1.0), (2.0, 0.5), (0.3, 1.7)])
def test_balanced_matches_formula(a, r):
    z1, z2 = _views()
    value = losses.balanced_info_nce(
        z1, z2, 0.3, attraction_weight=a, repulsion_weight=r
    )
    assert value.item() == pytest.approx(_ref_balanced(z1, z2, 0.3, a, r), rel=1e-12)


@pytest.mark.parametrize("per_anchor", [False, True])
@pytest.mark.parametrize("alpha, gamma", [(2.0, 0.1), (0.5, 0.3), (1.0, 0.05)])
def test_renyi_matches_formula(alpha, gamma, per_anchor):
    z1, z2 = _views()
    value = losses.renyi_contrastive(
        z1, z2, 0.4, alpha=alpha, gamma=gamma, per_anchor=per_anchor
    )
    expected = _ref_renyi(z1, z2, 0.4, alpha, gamma, per_anchor)
    assert value.item() == pytest.approx(expected, rel=1e-10)


def test_renyi_default_gamma_is_one_over_candidates():
    z1, z2 = _views(n=4)
    assert losses.renyi_contrastive(z1, z2, 0.5).item() == pytest.approx(
        _ref_renyi(z1, z2, 0.5, 2.0, 1 / 7, False), rel=1e-10
    )


@pytest.mark.parametrize("beta, t_target", [(0.5, None), (0.2, 0.1), (1.0, 2.0)])
def test_self_labeling_matches_formula(beta, t_target):
    z1, z2 = _views()
    value = losses.self_labeling_info_nce(
        z1, z2, 0.3, refinement=beta, target_temperature=t_target
    )
    expected = _ref_self_labeling(z1, z2, 0.3, beta, t_target or 0.3)
    assert value.item() == pytest.approx(expected, rel=1e-10)


def test_self_labeling_targets_are_stop_gradient():
    # beta = 1: the target depends on the embeddings; its gradient must not
    # flow. Compare with the loss against the same targets given as constants.
    z1, z2 = _views()
    z1.requires_grad_(True)
    losses.self_labeling_info_nce(z1, z2, 0.3, refinement=1.0).backward()
    grad = z1.grad.clone()

    z1c = z1.detach().clone().requires_grad_(True)
    n = z1.shape[0]
    z = torch.nn.functional.normalize(torch.cat([z1c, z2]), dim=1)
    fixed = torch.nn.functional.normalize(torch.cat([z1.detach(), z2]), dim=1)
    twins = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    mask = torch.eye(2 * n, dtype=torch.bool)
    targets = (fixed[twins] @ fixed.T / 0.3).masked_fill(mask, -math.inf).softmax(1)
    log_probs = (z @ z.T / 0.3).masked_fill(mask, -math.inf).log_softmax(1)
    loss = -(targets * log_probs.masked_fill(mask, 0.0)).sum(1).mean()
    loss.backward()
    torch.testing.assert_close(grad, z1c.grad)


def test_soft_target_matches_formula():
    q, k = _views(n=4, d=3, seed=1)
    g = torch.Generator().manual_seed(2)
    targets = torch.rand(4, 4, generator=g, dtype=torch.float64)
    targets = targets / targets.sum(1, keepdim=True)
    value = losses.soft_target_info_nce(q, k, targets, 0.7)
    assert value.item() == pytest.approx(
        _ref_soft_target(q, k, targets, 0.7), rel=1e-12
    )


# -- Row weights ------------------------------------------------------------------

# Row weights with a zero: that row's anchors add nothing.
WEIGHTS = torch.tensor([0.5, 0.0, 2.0, 1.5, 1.0], dtype=torch.float64)


@pytest.mark.parametrize(
    "loss, reference",
    [
        (
            lambda *v, **w: losses.info_nce(*v, 0.3, **w),
            lambda *v, w: _ref_info_nce(*v, 0.3, w),
        ),
        (
            lambda *v, **w: losses.balanced_info_nce(*v, 0.3, 2.0, 0.5, **w),
            lambda *v, w: _ref_balanced(*v, 0.3, 2.0, 0.5, w),
        ),
        (
            lambda *v, **w: losses.self_labeling_info_nce(*v, 0.3, 0.5, **w),
            lambda *v, w: _ref_self_labeling(*v, 0.3, 0.5, 0.3, w),
        ),
    ],
    ids=["info_nce", "balanced", "self_labeling"],
)
def test_weighted_contrastive_losses_weight_each_rows_anchors(loss, reference):
    z1, z2 = _views()
    weighted = loss(z1, z2, sample_weight=WEIGHTS).item()
    assert weighted == pytest.approx(reference(z1, z2, w=WEIGHTS), rel=1e-12)
    assert weighted != pytest.approx(loss(z1, z2).item(), rel=1e-3)
    ones = torch.ones(5, dtype=torch.float64)
    assert loss(z1, z2, sample_weight=ones).item() == pytest.approx(
        loss(z1, z2).item(), rel=1e-14
    )


def test_weighted_soft_target_weights_each_query():
    q, k = _views(n=5, d=3, seed=1)
    targets = torch.eye(5, dtype=torch.float64)
    value = losses.soft_target_info_nce(q, k, targets, 0.7, sample_weight=WEIGHTS)
    assert value.item() == pytest.approx(
        _ref_soft_target(q, k, targets, 0.7, WEIGHTS), rel=1e-12
    )


@pytest.mark.parametrize("block_entries", [1, 3 * 10, 2**18])
def test_weighted_blocked_info_nce_matches_autograd(block_entries):
    z1, z2 = _views()

    def weighted_cross_entropy(a, b, temperature):
        logits, positives, _, _ = losses._contrastive_logits(a, b, temperature)
        per_anchor = torch.nn.functional.cross_entropy(
            logits, positives, reduction="none"
        )
        return (per_anchor * torch.cat([WEIGHTS, WEIGHTS])).mean()

    reference = _autograd(weighted_cross_entropy, z1, z2, 0.4)
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    value, gradient = losses._blocked_info_nce(
        z.detach(),
        0.4,
        with_gradient=True,
        block_entries=block_entries,
        anchor_weights=torch.cat([WEIGHTS, WEIGHTS]),
    )
    blocked = (value, *torch.autograd.grad(z, (a, b), grad_outputs=gradient))
    public = _autograd(
        lambda a, b, t: losses.info_nce(a, b, t, sample_weight=WEIGHTS), z1, z2, 0.4
    )
    for result in (blocked, public):
        for value, expected in zip(result, reference):
            torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)


# -- Neutral settings and limits -------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_neutral_settings_equal_info_nce(dtype, tol):
    z1, z2 = _views(n=8, d=4, dtype=dtype)
    reference = losses.info_nce(z1, z2, 0.2)
    balanced = losses.balanced_info_nce(z1, z2, 0.2, 1.0, 1.0)
    labeled = losses.self_labeling_info_nce(z1, z2, 0.2, refinement=0.0)
    torch.testing.assert_close(balanced, reference, rtol=tol, atol=tol)
    torch.testing.assert_close(labeled, reference, rtol=tol, atol=tol)


def test_neutral_gradients_equal_info_nce():
    z1, z2 = _views(n=6, d=4)
    grads = []
    for fn in (
        lambda a, b: losses.info_nce(a, b, 0.3),
        lambda a, b: losses.balanced_info_nce(a, b, 0.3),
        lambda a, b: losses.self_labeling_info_nce(a, b, 0.3, refinement=0.0),
    ):
        a = z1.clone().requires_grad_(True)
        fn(a, z2).backward()
        grads.append(a.grad)
    torch.testing.assert_close(grads[1], grads[0])
    torch.testing.assert_close(grads[2], grads[0])


def test_balanced_weights_act_on_separate_terms():
    z1, z2 = _views()
    base = losses.balanced_info_nce(z1, z2, 0.5)
    positive = losses.balanced_info_nce(z1, z2, 0.5, 2.0, 1.0)
    # Raising the attraction weight by 1 subtracts the mean positive logit.
    cos = torch.nn.functional.cosine_similarity(z1, z2, dim=1)
    assert (base - positive).item() == pytest.approx(cos.mean().item() / 0.5, rel=1e-12)
    assert losses.balanced_info_nce(z1, z2, 0.5, 0.0, 0.0).item() == 0.0


def test_renyi_per_anchor_at_order_one_is_info_nce():
    # alpha = 1, gamma = 1/(2B - 1): InfoNCE minus log(2B - 1), exactly.
    for n, t in [(3, 0.5), (8, 0.1), (16, 1.0)]:
        z1, z2 = _views(n=n, d=5, seed=n)
        value = losses.renyi_contrastive(z1, z2, t, alpha=1.0, per_anchor=True)
        expected = losses.info_nce(z1, z2, t) - math.log(2 * n - 1)
        torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)


def test_renyi_batch_level_at_order_one_is_pooled_info_nce():
    z1, z2 = _views(n=6, d=4)
    n, t = 6, 0.5
    value = losses.renyi_contrastive(z1, z2, t, alpha=1.0)
    s = torch.tensor(_cosines(z1, z2)) / t
    s.fill_diagonal_(-math.inf)
    twins = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    pooled = (
        -s[torch.arange(2 * n), twins].mean()
        + torch.logsumexp(s, dim=1).exp().mean().log()
    )
    torch.testing.assert_close(value, pooled - math.log(2 * n - 1))
    # Jensen: the pooled form bounds InfoNCE - log(2B - 1) from above.
    assert value.item() >= losses.info_nce(z1, z2, t).item() - math.log(2 * n - 1)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
@pytest.mark.parametrize("per_anchor", [False, True])
def test_renyi_is_continuous_at_order_one(dtype, tol, per_anchor):
    z1, z2 = _views(n=6, d=4, dtype=dtype)
    at_one = losses.renyi_contrastive(z1, z2, 0.2, alpha=1.0, per_anchor=per_anchor)
    for eps in (1e-3, 1e-6):
        for alpha in (1 - eps, 1 + eps):
            near = losses.renyi_contrastive(
                z1, z2, 0.2, alpha=alpha, per_anchor=per_anchor
            )
            assert abs(near.item() - at_one.item()) < max(tol, 20 * eps)


def test_mixup_with_theta_one_is_one_directional_info_nce():
    q, k = _views(n=6, d=4)
    mixed, perm = losses.momentum_mixup(q, k, 1.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(mixed, q)
    targets = losses.mixup_targets(1.0, perm)
    torch.testing.assert_close(targets, torch.eye(6, dtype=targets.dtype))
    value = losses.soft_target_info_nce(mixed, k, targets.double(), 0.5)
    logits = (
        torch.nn.functional.normalize(q, dim=1)
        @ torch.nn.functional.normalize(k, dim=1).T
    )
    expected = torch.nn.functional.cross_entropy(logits / 0.5, torch.arange(6))
    torch.testing.assert_close(value, expected)


# -- Momentum mixup --------------------------------------------------------------


def test_momentum_mixup_mixes_with_permuted_keys():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(7, 4, generator=g)
    k = torch.randn(7, 4, generator=g)
    theta = torch.rand(7, generator=g)
    mixed, perm = losses.momentum_mixup(q, k, theta, torch.Generator().manual_seed(4))
    assert sorted(perm.tolist()) == list(range(7))
    for i in range(7):
        expected = theta[i] * q[i] + (1 - theta[i]) * k[perm[i]]
        torch.testing.assert_close(mixed[i], expected)
    targets = losses.mixup_targets(theta, perm)
    torch.testing.assert_close(targets.sum(1), torch.ones(7))
    for i in range(7):
        if perm[i] != i:
            assert targets[i, i].item() == pytest.approx(theta[i].item())
            assert targets[i, perm[i]].item() == pytest.approx(1 - theta[i].item())
        else:
            assert targets[i, i].item() == pytest.approx(1.0)
    # Same generator seed, same permutation; gradients reach both inputs.
    q.requires_grad_(True)
    k.requires_grad_(True)
    again, perm_again = losses.momentum_mixup(
        q, k, theta, torch.Generator().manual_seed(4)
    )
    assert torch.equal(perm_again, perm)
    again.sum().backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()


def test_momentum_mixup_validates_arguments():
    q = torch.zeros(3, 2)
    with pytest.raises(ValueError):
        losses.momentum_mixup(q, q, 1.5)
    with pytest.raises(ValueError):
        losses.momentum_mixup(q, q, torch.full((4,), 0.5))
    with pytest.raises(ValueError):
        losses.momentum_mixup(q, torch.zeros(3, 3), 0.5)


# -- Symmetry and numerical robustness ----------------------------------------------


SYMMETRIC = {
    "info_nce": lambda a, b, t: losses.info_nce(a, b, t),
    "balanced": lambda a, b, t: losses.balanced_info_nce(a, b, t, 1.5, 0.7),
    "renyi": lambda a, b, t: losses.renyi_contrastive(a, b, t, alpha=2.0),
    "renyi_half": lambda a, b, t: losses.renyi_contrastive(a, b, t, alpha=0.5),
    "renyi_per_anchor": lambda a, b, t: losses.renyi_contrastive(
        a, b, t, alpha=3.0, per_anchor=True
    ),
    "self_labeling": lambda a, b, t: losses.self_labeling_info_nce(
        a, b, t, refinement=0.4, target_temperature=0.5 * t
    ),
}


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_symmetric_in_the_two_views(name):
    z1, z2 = _views(n=6, d=4)
    fn = SYMMETRIC[name]
    torch.testing.assert_close(fn(z1, z2, 0.3), fn(z2, z1, 0.3))


def _extreme_views(kind):
    g = torch.Generator().manual_seed(5)
    z1 = torch.randn(6, 4, generator=g)
    if kind == "identical":
        return z1, z1.clone()
    if kind == "antipodal":
        return z1, -z1
    if kind == "collapsed":  # every row the same vector, in both views
        row = torch.randn(1, 4, generator=g)
        return row.repeat(6, 1), row.repeat(6, 1)
    raise AssertionError(kind)


@pytest.mark.parametrize("temperature", [1e-3, 1e3])
@pytest.mark.parametrize("kind", ["identical", "antipodal", "collapsed"])
@pytest.mark.parametrize("name", sorted(SYMMETRIC))
def test_finite_at_extremes(name, kind, temperature):
    z1, z2 = _extreme_views(kind)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    loss = SYMMETRIC[name](z1, z2, temperature)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("temperature", [1e-3, 1e3])
@pytest.mark.parametrize("kind", ["identical", "antipodal", "collapsed"])
def test_soft_target_finite_at_extremes(kind, temperature):
    q, k = _extreme_views(kind)
    q.requires_grad_(True)
    mixed, perm = losses.momentum_mixup(q, k, 0.8, torch.Generator().manual_seed(0))
    loss = losses.soft_target_info_nce(
        mixed, k, losses.mixup_targets(0.8, perm), temperature
    )
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(q.grad).all()


def test_renyi_values_at_small_temperature_match_float64():
    # Logits of +-1000 overflow exp() in float32; the log-sum-exp form must not.
    z1, z2 = _views(n=5, d=3)
    for per_anchor in (False, True):
        double = losses.renyi_contrastive(z1, z2, 1e-3, per_anchor=per_anchor)
        single = losses.renyi_contrastive(
            z1.float(), z2.float(), 1e-3, per_anchor=per_anchor
        )
        assert math.isfinite(single.item())
        assert single.item() == pytest.approx(double.item(), rel=1e-3, abs=1e-1)


def test_renyi_validates_arguments():
    z1, z2 = _views()
    with pytest.raises(ValueError):
        losses.renyi_contrastive(z1, z2, 0.5, alpha=0.0)
    with pytest.raises(ValueError):
        losses.renyi_contrastive(z1, z2, 0.5, gamma=1.5)
    with pytest.raises(ValueError):
        losses.renyi_contrastive(z1[:1], z2[:1], 0.5)
    with pytest.raises(ValueError):
        losses.self_labeling_info_nce(z1, z2, 0.5, refinement=-0.1)


@pytest.mark.parametrize("gamma", [0.0, 1.0])
def test_renyi_accepts_extreme_skews(gamma):
    z1, z2 = _views()
    z1.requires_grad_(True)
    for per_anchor in (False, True):
        loss = losses.renyi_contrastive(z1, z2, 0.5, gamma=gamma, per_anchor=per_anchor)
        loss.backward()
        expected = _ref_renyi(z1.detach(), z2, 0.5, 2.0, gamma, per_anchor)
        assert loss.item() == pytest.approx(expected, rel=1e-10)
        assert torch.isfinite(z1.grad).all()


# -- The blocked InfoNCE used in training ------------------------------------


def _blocked(z1, z2, temperature, block_entries):
    """The blocked InfoNCE and its gradient with respect to ``z1`` and ``z2``.

    ``_blocked_info_nce`` gives the gradient with respect to the normalised
    embeddings; autograd carries it back through the normalisation, as
    :func:`losses.info_nce`'s backward does.
    """
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    value, gradient = losses._blocked_info_nce(
        z.detach(), temperature, with_gradient=True, block_entries=block_entries
    )
    grad_a, grad_b = torch.autograd.grad(z, (a, b), grad_outputs=gradient)
    return value, grad_a, grad_b


def _autograd(fn, z1, z2, temperature):
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    value = fn(a, b, temperature)
    value.backward()
    return value.detach(), a.grad, b.grad


@pytest.mark.parametrize("block_entries", [1, 3 * 14, 5 * 14, 2**18])
@pytest.mark.parametrize("temperature", [0.05, 0.5, 5.0])
def test_blocked_info_nce_matches_autograd(block_entries, temperature):
    # 2B = 14 anchors: blocks of 1, 3 (ragged: 3+3+3+3+2), 5 and all 14 rows.
    z1, z2 = _views(n=7, d=5)
    reference = _autograd(losses.info_nce_cross_entropy, z1, z2, temperature)
    blocked = _blocked(z1, z2, temperature, block_entries)
    # info_nce itself: the default block (all 14 rows on the CPU).
    public = _autograd(losses.info_nce, z1, z2, temperature)
    for result in (blocked, public):
        for value, expected in zip(result, reference):
            torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-12)


def test_blocked_info_nce_without_gradients_gives_the_same_value():
    z1, z2 = _views(n=6, d=3)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    blocks = dict(block_entries=4 * 12)  # 4 of the 12 anchors at a time
    no_grad, none = losses._blocked_info_nce(z, 0.2, with_gradient=False, **blocks)
    tracked, _ = losses._blocked_info_nce(z, 0.2, with_gradient=True, **blocks)
    assert none is None
    assert no_grad.item() == pytest.approx(tracked.item(), rel=1e-14)
    assert no_grad.item() == pytest.approx(_ref_info_nce(z1, z2, 0.2), rel=1e-12)
    # info_nce without gradients takes the gradient-free path.
    with torch.no_grad():
        public = losses.info_nce(z1, z2, 0.2)
    assert public.item() == pytest.approx(_ref_info_nce(z1, z2, 0.2), rel=1e-12)


def test_blocked_info_nce_scales_the_incoming_gradient():
    z1, z2 = _views(n=4, d=3)
    a = z1.clone().requires_grad_(True)
    (3.0 * losses.info_nce(a, z2, 0.4)).backward()
    b = z1.clone().requires_grad_(True)
    (3.0 * losses.info_nce_cross_entropy(b, z2, 0.4)).backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_reconstruction_nll_adds_the_categorical_term_only_when_there_is_one():
    g = torch.Generator().manual_seed(0)
    mean, target = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    observed = torch.tensor([[True, False, True]] * 4)
    logits = torch.randn(4, 2, 5, generator=g)
    codes = torch.tensor([[1, 0], [2, 3], [4, 4], [0, 0]])
    numeric_only = losses.reconstruction_nll(mean, None, target, observed, codes)
    torch.testing.assert_close(
        numeric_only, losses.gaussian_nll(mean, target, observed)
    )
    both = losses.reconstruction_nll(mean, logits, target, observed, codes)
    torch.testing.assert_close(
        both, numeric_only + losses.categorical_nll(logits, codes)
    )
    assert (both > numeric_only)[:3].all() and both[3] == numeric_only[3]


def test_losses_compute_in_float32_under_autocast():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    half1, half2 = z1.bfloat16(), z2.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = losses.info_nce(half1, half2, 0.2)
        kl = losses.gaussian_kl(half1, half2)
    assert value.dtype == torch.float32 and kl.dtype == torch.float32
    # Exactly the float32 computation on the (rounded) half inputs: the
    # similarity products did not run in bfloat16.
    assert value.item() == losses.info_nce(half1.float(), half2.float(), 0.2).item()
    torch.testing.assert_close(kl, losses.gaussian_kl(half1.float(), half2.float()))
