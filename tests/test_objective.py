"""The training objective (skssl._objective): contrastive variants, terms, ELBO."""

import copy
import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from skssl import ContrastiveVAETransformer, _objective, losses
from skssl._objective import (
    LOSS_TERMS,
    Objective,
    contrastive_objective,
    elbo,
)
from skssl._training_data import TrainingData
from tests._helpers import CONTRASTIVE_VARIANTS, FAST, SMALL_LATENT, blobs

DEFAULTS = ContrastiveVAETransformer().get_params()

# Each variant's own parameters, set away from their defaults.
VARIANT_PARAMETERS = {
    "self_labeling": ("infonce", 0.5),
    "attraction_weight": ("balanced", 0.5),
    "repulsion_weight": ("balanced", 0.8),
    "renyi_alpha": ("renyi", 3.0),
}
# Every parameter with every variant that does not read it.
MEANINGLESS = [
    (variant, parameter)
    for parameter, (owner, _) in VARIANT_PARAMETERS.items()
    for variant in ("infonce", "balanced", "renyi")
    if variant != owner
]


def _params(**params):
    return ContrastiveVAETransformer(**params).get_params()


def _views(n=6, d=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def test_the_variant_table_names_each_variants_parameters():
    assert set(_objective.CONTRASTIVE_VARIANTS) == {"infonce", "balanced", "renyi"}
    reads = {
        parameter: variant
        for variant, (_, parameters) in _objective.CONTRASTIVE_VARIANTS.items()
        for parameter in parameters
    }
    owners = {name: owner for name, (owner, _) in VARIANT_PARAMETERS.items()}
    assert reads == owners
    assert len(MEANINGLESS) == 8


@pytest.mark.parametrize("variant, parameter", MEANINGLESS)
def test_a_parameter_of_another_variant_is_refused_by_name(variant, parameter):
    owner, value = VARIANT_PARAMETERS[parameter]
    params = _params(contrastive_loss=variant, **{parameter: value})
    message = (
        f"{parameter}={value!r} has no effect with "
        f"contrastive_loss='{variant}': it applies to contrastive_loss='{owner}'"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        contrastive_objective(params, DEFAULTS)
    # Its default value is no setting at all.
    params[parameter] = DEFAULTS[parameter]
    contrastive_objective(params, DEFAULTS)


@pytest.mark.parametrize("variant, parameter", MEANINGLESS)
def test_fit_and_partial_fit_refuse_a_meaningless_combination(variant, parameter):
    _, value = VARIANT_PARAMETERS[parameter]
    X = np.random.default_rng(0).normal(size=(20, 3))
    est = ContrastiveVAETransformer(
        contrastive_loss=variant, **{parameter: value}, **FAST
    )
    pattern = rf"{parameter}=.*contrastive_loss='{variant}'"
    with pytest.raises(ValueError, match=pattern):
        est.fit(X)
    with pytest.raises(ValueError, match=pattern):
        est.partial_fit(X)
    assert not hasattr(est, "model_")


@pytest.mark.parametrize(
    "params, reference",
    [
        ({}, lambda z1, z2, t: losses.info_nce(z1, z2, t)),
        (
            {"self_labeling": 0.5},
            lambda z1, z2, t: losses.self_labeling_info_nce(z1, z2, t, refinement=0.5),
        ),
        (
            {"contrastive_loss": "balanced"},
            lambda z1, z2, t: losses.balanced_info_nce(z1, z2, t),
        ),
        (
            {
                "contrastive_loss": "balanced",
                "attraction_weight": 0.5,
                "repulsion_weight": 0.8,
            },
            lambda z1, z2, t: losses.balanced_info_nce(
                z1, z2, t, attraction_weight=0.5, repulsion_weight=0.8
            ),
        ),
        (
            {"contrastive_loss": "renyi", "renyi_alpha": 3.0},
            lambda z1, z2, t: losses.renyi_contrastive(z1, z2, t, alpha=3.0),
        ),
    ],
)
def test_each_variant_computes_its_loss_with_its_parameters(params, reference):
    loss = contrastive_objective(_params(**params), DEFAULTS)
    z1, z2 = _views()
    assert loss(z1, z2, 0.3).item() == reference(z1, z2, 0.3).item()


@pytest.mark.parametrize("variant", ["infonce", "balanced", "renyi"])
def test_momentum_mixup_goes_with_every_variant(variant):
    params = _params(contrastive_loss=variant, momentum_mixup=1.0)
    objective = Objective.from_params(params, DEFAULTS)
    assert objective.momentum_mixup == 1.0


@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_every_tested_variant_is_a_meaningful_setting(variant):
    objective = Objective.from_params(
        _params(**CONTRASTIVE_VARIANTS[variant]), DEFAULTS
    )
    z1, z2 = _views()
    assert torch.isfinite(objective.contrastive(z1, z2, 0.2))


def _fitted_batch(**params):
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**FAST, **params).fit(X[:64])
    data = TrainingData.from_encoded(est.table_encoder_.transform(X[:64]), "cpu")
    objective = Objective.from_params(est.get_params(), DEFAULTS)
    return est.model_, data, objective


@pytest.mark.parametrize(
    "params", [{}, {"vae_weight": 0.0}, {"contrastive_weight": 0.0}, {"kl_weight": 2}]
)
def test_batch_losses_weigh_the_branches_terms(params):
    model, batch, objective = _fitted_batch(
        contrastive_weight=params.get("contrastive_weight", 0.7),
        vae_weight=params.get("vae_weight", 1.3),
        kl_weight=params.get("kl_weight", 0.1),
    )
    terms = objective.batch_losses(
        model, batch, batch, torch.Generator().manual_seed(0)
    )
    assert terms.shape == (len(LOSS_TERMS),) == (4,)
    total, contrastive, reconstruction, kl = terms.tolist()
    if objective.contrastive_weight == 0:
        assert contrastive == 0.0
    else:
        assert contrastive > 0
    if objective.vae_weight == 0:
        assert reconstruction == kl == 0.0
    else:
        assert reconstruction > 0 and kl > 0
    # The VAE term is the negative ELBO per input column (30 columns here).
    vae = (reconstruction + objective.kl_weight * kl) / 30
    expected = objective.contrastive_weight * contrastive + objective.vae_weight * vae
    assert total == pytest.approx(expected, rel=1e-5)
    assert objective.vae_loss(
        torch.tensor(reconstruction), torch.tensor(kl), batch
    ).item() == pytest.approx(vae, rel=1e-6)


def test_batch_losses_draw_from_the_generator_only():
    model, batch, objective = _fitted_batch()
    first, second = (
        objective.batch_losses(model, batch, batch, torch.Generator().manual_seed(3))
        for _ in range(2)
    )
    assert torch.equal(first, second)
    other = objective.batch_losses(
        model, batch, batch, torch.Generator().manual_seed(4)
    )
    assert not torch.equal(first, other)


def test_augmentation_off_gives_the_clean_rows():
    _, batch, _ = _fitted_batch()
    objective = Objective.from_params(_params(corruption_rate=0.0), DEFAULTS)
    assert objective.augment(batch, batch, torch.Generator()) is batch
    noisy = Objective.from_params(_params(), DEFAULTS)
    view = noisy.augment(batch, batch, torch.Generator().manual_seed(0))
    assert view.numeric.shape == batch.numeric.shape
    assert not torch.equal(view.numeric, batch.numeric)


def test_elbo_is_score_samples():
    X, _ = load_breast_cancer(return_X_y=True)
    est = ContrastiveVAETransformer(**FAST).fit(X)
    encoded = est.table_encoder_.transform(X)
    model = copy.deepcopy(est.model_).double()
    with torch.no_grad():
        scores = elbo(
            model,
            torch.as_tensor(encoded.numeric),
            torch.as_tensor(encoded.observed),
            torch.as_tensor(encoded.categorical),
        )
    np.testing.assert_allclose(scores.numpy(), est.score_samples(X), rtol=1e-12)


def test_neutral_variant_settings_reproduce_infonce():
    X, _ = load_breast_cancer(return_X_y=True)
    base = ContrastiveVAETransformer(**FAST).fit(X).transform(X)
    balanced = ContrastiveVAETransformer(
        contrastive_loss="balanced", attraction_weight=1.0, repulsion_weight=1.0, **FAST
    )
    np.testing.assert_allclose(balanced.fit(X).transform(X), base, atol=1e-5)
    refined = ContrastiveVAETransformer(self_labeling=0.0, **FAST).fit(X).transform(X)
    np.testing.assert_array_equal(refined, base)


def test_branches_switch_off():
    X, _ = load_breast_cancer(return_X_y=True)
    no_vae = ContrastiveVAETransformer(vae_weight=0, **FAST).fit(X)
    assert no_vae.model_.decoder is None
    assert not hasattr(no_vae, "score") and not hasattr(no_vae, "inverse_transform")
    assert no_vae.reconstruction_loss_curve_ == [0.0] * no_vae.n_iter_

    no_contrastive = ContrastiveVAETransformer(contrastive_weight=0, **FAST).fit(X)
    assert no_contrastive.model_.projection is None
    assert no_contrastive.contrastive_loss_curve_ == [0.0] * no_contrastive.n_iter_

    with pytest.raises(ValueError, match="both 0"):
        ContrastiveVAETransformer(contrastive_weight=0, vae_weight=0).fit(X)


@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_learns_useful_features_on_clusters(variant):
    # Four clusters hidden among noisy dimensions: a linear probe on the
    # 4-d latent code the losses shape must beat one on an untrained encoder.
    X, y = make_blobs(
        n_samples=400, n_features=4, centers=4, cluster_std=1.5, random_state=1
    )
    rng = np.random.RandomState(0)
    X = np.hstack([X, rng.normal(size=(400, 12))]) @ rng.normal(size=(16, 16))

    def probe_accuracy(max_epochs, learning_rate):
        ssl = ContrastiveVAETransformer(
            n_components=4,
            hidden_layer_sizes=(64,),
            representation="latent",
            max_epochs=max_epochs,
            learning_rate=learning_rate,
            random_state=0,
            **CONTRASTIVE_VARIANTS[variant],
        )
        pipe = Pipeline([("ssl", ssl), ("clf", LogisticRegression(max_iter=1000))])
        return cross_val_score(pipe, X, y, cv=3).mean()

    trained = probe_accuracy(max_epochs=60, learning_rate=0.002)
    untrained = probe_accuracy(max_epochs=1, learning_rate=1e-12)
    assert trained > untrained + 0.05, (trained, untrained)
    assert trained > 0.8


def test_mixed_precision_trains_the_networks_in_bfloat16(monkeypatch):
    X, y = blobs()
    est = ContrastiveVAETransformer(**SMALL_LATENT, mixed_precision=True, max_epochs=15)
    seen = set()
    original = torch.nn.Linear.forward

    def recording_forward(self, input):
        out = original(self, input)
        seen.add(out.dtype)
        return out

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Linear, "forward", recording_forward)
        est.fit(X)
    assert torch.bfloat16 in seen  # the training forward passes
    assert all(p.dtype == torch.float32 for p in est.model_.parameters())
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    Z = est.transform(X)
    assert Z.dtype == np.float64
    score = cross_val_score(LogisticRegression(max_iter=1000), Z, y).mean()
    assert score > 0.9
    # Reproducible on the CPU like float32 training.
    again = ContrastiveVAETransformer(
        **SMALL_LATENT, mixed_precision=True, max_epochs=15
    )
    np.testing.assert_array_equal(again.fit_transform(X), Z)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("variant", CONTRASTIVE_VARIANTS)
def test_cuda_trains_every_contrastive_variant(variant, mixed_frame):
    # Every objective with both branches and the augmentations (corruption and
    # noise) on mixed numeric/categorical data with missing values.
    est = ContrastiveVAETransformer(
        **{**FAST, "max_epochs": 5}, device="cuda", **CONTRASTIVE_VARIANTS[variant]
    ).fit(mixed_frame)
    assert est.device_.startswith("cuda")
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    Z = est.transform(mixed_frame)
    assert Z.shape == (len(mixed_frame), 32) and np.isfinite(Z).all()
