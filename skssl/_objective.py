"""The training objective: loss terms, the contrastive variants, the ELBO.

``contrastive_weight * L_contrastive + vae_weight * L_VAE`` (arXiv 2504.04032),
with SCARF views (arXiv 2106.15147). :class:`Objective` holds the settings
that define it, and :meth:`Objective.batch_losses` evaluates it on a
minibatch.
"""

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import losses
from ._augment import corrupt
from ._training_data import Batch

# The loss terms training records per epoch, in the order the objective
# returns them: the weighted total, then each branch's term. Curves, fitted
# attributes, the benchmark's records and its plots all read this list.
LOSS_TERMS = ("loss", "contrastive", "reconstruction", "kl")
# The classifier's extra term: cross-entropy on labeled rows (plus the
# consistency term on unlabeled ones), recorded after LOSS_TERMS.
SUPERVISED_TERM = "supervised"


def curve_attribute(term):
    """The fitted attribute holding the per-epoch curve of loss term ``term``.

    >>> [curve_attribute(term) for term in ("loss", "kl", "validation")]
    ['loss_curve_', 'kl_loss_curve_', 'validation_loss_curve_']
    """
    return "loss_curve_" if term == "loss" else f"{term}_loss_curve_"


def _info_nce(z1, z2, temperature, refinement, **weights):
    if refinement > 0:
        return losses.self_labeling_info_nce(
            z1, z2, temperature, refinement=refinement, **weights
        )
    return losses.info_nce(z1, z2, temperature, **weights)


# contrastive_loss -> (loss(z1, z2, temperature, **keywords), the estimator
# parameters it reads, each with the loss's keyword for it). A parameter that
# another variant reads, set away from its default, means nothing here.
CONTRASTIVE_VARIANTS = {
    "infonce": (_info_nce, {"self_labeling": "refinement"}),
    "balanced": (
        losses.balanced_info_nce,
        {
            "attraction_weight": "attraction_weight",
            "repulsion_weight": "repulsion_weight",
        },
    ),
    "renyi": (losses.renyi_contrastive, {"renyi_alpha": "alpha"}),
}


# Contrastive variants whose loss is not a mean over the batch's rows, so that
# rows cannot be weighted: RényiCL's bound takes logarithms of means over all
# pairs of the batch.
UNWEIGHTED_VARIANTS = ("renyi",)


def check_sample_weight_support(params):
    """Raise a ValueError if the objective of ``params`` cannot weight rows."""
    name = params["contrastive_loss"]
    if name in UNWEIGHTED_VARIANTS and params["contrastive_weight"] > 0:
        raise ValueError(
            f"sample_weight is not supported with contrastive_loss={name!r}: its "
            "loss is a bound over all pairs of a batch, not a mean over rows that "
            "weights could scale. Use contrastive_loss='infonce' or 'balanced', or "
            "fit without sample_weight."
        )


def contrastive_objective(params, defaults):
    """The contrastive loss ``f(z1, z2, temperature)`` that ``params`` select.

    Parameters
    ----------
    params, defaults : mapping
        Estimator parameters, and their default values.

    Raises
    ------
    ValueError
        If a parameter of another variant is set away from its default: e.g.
        ``self_labeling`` with ``contrastive_loss="balanced"``.
    """
    name = params["contrastive_loss"]
    loss, reads = CONTRASTIVE_VARIANTS[name]
    for other, (_, other_reads) in CONTRASTIVE_VARIANTS.items():
        for parameter in other_reads.keys() - reads.keys():
            if params[parameter] != defaults[parameter]:
                raise ValueError(
                    f"{parameter}={params[parameter]!r} has no effect with "
                    f"contrastive_loss={name!r}: it applies to "
                    f"contrastive_loss={other!r}. Set contrastive_loss={other!r} "
                    f"or leave {parameter} at {defaults[parameter]!r}."
                )
    return functools.partial(
        loss, **{keyword: params[parameter] for parameter, keyword in reads.items()}
    )


@dataclass(frozen=True)
class Objective:
    """The weighted self-supervised loss, and the augmentation it trains on."""

    contrastive_weight: float
    vae_weight: float
    kl_weight: float
    temperature: float
    contrastive: object  # f(z1, z2, temperature), see contrastive_objective
    momentum_mixup: float
    corruption_rate: float
    noise_scale: float
    mixed_precision: bool
    # The classifier's terms (0 for the transformer, which has no labels).
    supervised_weight: float = 0.0
    consistency_weight: float = 0.0
    confidence_threshold: float = 1.0

    @property
    def terms(self):
        """The names of the terms :meth:`batch_losses` returns, in order."""
        if self.supervised_weight > 0:
            return (*LOSS_TERMS, SUPERVISED_TERM)
        return LOSS_TERMS

    @classmethod
    def from_params(cls, params, defaults):
        """The objective of estimator parameters ``params`` (see above).

        The supervised parameters are read when present (the classifier's).
        """
        supervised = {
            name: params[name]
            for name in (
                "supervised_weight",
                "consistency_weight",
                "confidence_threshold",
            )
            if name in params
        }
        return cls(
            **supervised,
            contrastive_weight=params["contrastive_weight"],
            vae_weight=params["vae_weight"],
            kl_weight=params["kl_weight"],
            temperature=params["temperature"],
            contrastive=contrastive_objective(params, defaults),
            momentum_mixup=params["momentum_mixup"],
            corruption_rate=params["corruption_rate"],
            noise_scale=params["noise_scale"],
            mixed_precision=params["mixed_precision"],
        )

    def augment(self, batch, pool, generator):
        """A SCARF view of ``batch``, drawing replacements from ``pool``'s rows."""
        return corrupt(batch, pool, self.corruption_rate, self.noise_scale, generator)

    def vae_loss(self, reconstruction, kl, batch):
        """The VAE term: the negative ELBO per input column of ``batch``.

        Normalised per input column so that ``vae_weight`` means the same
        thing on narrow and wide tables.
        """
        n_columns = batch.numeric.shape[1] + batch.categorical.shape[1]
        return (reconstruction + self.kl_weight * kl) / n_columns

    def batch_losses(self, model, batch, pool, generator):
        """Loss terms for one minibatch, in the order of :data:`LOSS_TERMS`.

        Returns a tensor ``[total, contrastive, reconstruction, kl]`` (and
        ``supervised`` for the classifier) where the reconstruction and KL
        entries are per-sample means (nats).
        Branches whose weight is 0 are skipped entirely and report 0. With
        ``mixed_precision`` the networks' matrix products run in bfloat16
        under autocast; the loss functions compute in float32 (see
        :mod:`skssl.losses`).
        """
        with self._autocast(batch):
            return self._batch_losses(model, batch, pool, generator)

    def _autocast(self, batch):
        """bfloat16 matrix products with ``mixed_precision``, on ``batch``'s device."""
        return torch.autocast(
            batch.numeric.device.type,
            dtype=torch.bfloat16,
            enabled=self.mixed_precision,
        )

    def _batch_losses(self, model, batch, pool, generator):
        device = batch.numeric.device
        zero = torch.zeros((), device=device, dtype=batch.numeric.dtype)
        contrastive = reconstruction = kl = zero
        total = zero
        n = batch.n_samples

        # The two views and the clean rows go through the encoder in one
        # call: one large matrix product is faster than three small ones.
        inputs = []
        if self.contrastive_weight > 0:
            inputs += [
                self.augment(batch, pool, generator),
                self.augment(batch, pool, generator),
            ]
            views = list(inputs)
        supervised = self.supervised_weight > 0
        if self.vae_weight > 0 or supervised:
            inputs.append(batch)
        stacked = _concat(inputs) if len(inputs) > 1 else inputs[0]
        features = model.encoder.input_layer(
            stacked.numeric, stacked.observed, stacked.categorical
        )
        # The log-variance only of the clean rows, the VAE's (the last n).
        clean_rows = slice(-n, None) if self.vae_weight > 0 else None
        if supervised:
            hidden, last = model.encoder.hidden_layers(features)
            mean, log_var = model.encoder.posterior(last, log_var_rows=clean_rows)
        else:
            mean, log_var = model.encoder.from_features(
                features, log_var_rows=clean_rows
            )
        # No-op in float32; under autocast the reparametrisation and its noise
        # stay in float32.
        mean = mean.float()

        # Each row's terms times its weight (None: unweighted).
        weights = {} if batch.weights is None else {"sample_weight": batch.weights}
        if self.contrastive_weight > 0:
            projected = model.projection(mean[: 2 * n])
            contrastive = self.contrastive(
                projected[:n], projected[n : 2 * n], self.temperature, **weights
            )
            if self.momentum_mixup > 0:
                contrastive = contrastive + self.momentum_mixup * (
                    self._momentum_mixup_loss(
                        model, *views, projected[n : 2 * n], generator, **weights
                    )
                )
            total = total + self.contrastive_weight * contrastive
        if self.vae_weight > 0:
            mean, log_var = mean[-n:], log_var.float()
            noise = torch.randn(
                mean.shape, generator=generator, device=device, dtype=mean.dtype
            )
            z = mean + (0.5 * log_var).exp() * noise
            numeric_mean, logits = model.decoder(z)
            reconstruction = _mean(
                losses.reconstruction_nll(
                    numeric_mean,
                    logits,
                    batch.numeric,
                    batch.observed,
                    batch.categorical,
                ),
                batch.weights,
            )
            kl = _mean(losses.gaussian_kl(mean, log_var), batch.weights)
            total = total + self.vae_weight * self.vae_loss(reconstruction, kl, batch)
        if not supervised:
            return torch.stack([total, contrastive, reconstruction, kl])
        logits = model.classifier(features, hidden, stacked.categorical).float()
        supervised_loss = self._supervised_loss(logits, batch.labels, n, batch.weights)
        total = total + self.supervised_weight * supervised_loss
        return torch.stack([total, contrastive, reconstruction, kl, supervised_loss])

    def _supervised_loss(self, logits, labels, n, weights=None):
        """Cross-entropy of the clean labeled rows, plus the consistency term.

        ``logits`` are those of the stacked rows (the two views, when the
        contrastive branch is on, then the clean rows, the last ``n``). Rows
        are masked rather than selected, so no step waits on the host. With
        ``weights``, both terms are weighted means over their rows.

        Consistency (FixMatch, arXiv 2001.07685): each unlabeled row whose
        clean prediction is at least ``confidence_threshold`` confident gives
        that class as the target of its two views.
        """
        clean = logits[-n:]
        labeled = labels >= 0
        per_row = F.cross_entropy(clean, labels.clamp(min=0), reduction="none")
        if weights is None:
            loss = (per_row * labeled).sum() / labeled.sum().clamp(min=1)
        else:
            loss = _ratio(per_row, labeled * weights)
        if self.consistency_weight == 0 or logits.shape[0] == n:
            return loss
        confidence, guess = clean.detach().softmax(dim=1).max(dim=1)
        confident = (~labeled & (confidence >= self.confidence_threshold)).float()
        views = logits[: 2 * n].reshape(2, n, -1)
        per_view = torch.stack(
            [F.cross_entropy(view, guess, reduction="none") for view in views]
        )
        if weights is None:
            consistency = (per_view * confident).sum() / (2 * confident.sum()).clamp(
                min=1
            )
        else:
            consistency = _ratio(per_view, confident * weights)
        return loss + self.consistency_weight * consistency

    @torch.no_grad()
    def validation_loss(self, model, batch, pool, generator):
        """The loss monitored on held-out rows: the total loss for the
        transformer, the cross-entropy of the labels for the classifier."""
        if self.supervised_weight == 0:
            return self.batch_losses(model, batch, pool, generator)[0]
        with self._autocast(batch):
            logits = model.class_logits(
                batch.numeric, batch.observed, batch.categorical
            )
        if batch.weights is None:
            return F.cross_entropy(logits.float(), batch.labels)
        per_row = F.cross_entropy(logits.float(), batch.labels, reduction="none")
        return _mean(per_row, batch.weights)

    def _momentum_mixup_loss(
        self, model, view1, view2, keys, generator, sample_weight=None
    ):
        """Momentum mixup (arXiv 2106.14749): mixed queries against detached keys.

        Rows are mixed after the input layer, where categorical codes have
        become embeddings and can be interpolated.
        """
        n = view1.n_samples
        layer = model.encoder.input_layer
        q = layer(view1.numeric, view1.observed, view1.categorical)
        k = layer(view2.numeric, view2.observed, view2.categorical)
        draw = torch.rand(n, generator=generator, device=q.device, dtype=q.dtype)
        # theta = max(l, 1 - l) with l uniform: each query keeps most of itself.
        theta = torch.maximum(draw, 1.0 - draw)
        mixed, perm = losses.mix_with_permuted_keys(q, k, theta, generator=generator)
        queries = model.projection(
            model.encoder.from_features(mixed, log_var_rows=None)[0]
        )
        targets = losses.mixup_targets(theta, perm)
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        return losses.soft_target_info_nce(
            queries, keys.detach(), targets, self.temperature, **weights
        )


def elbo(model, numeric, observed, categorical):
    """Per-row ELBO at the posterior mean, with KL weight 1 (``score_samples``).

    A row so far from the training data that the networks overflow scores
    -inf: its ELBO is below the float64 range, and the overflow would
    otherwise surface as NaN (inf - inf inside the networks or the terms).
    """
    mean, log_var = model.encoder(numeric, observed, categorical)
    numeric_mean, logits = model.decoder(mean)
    nll = losses.reconstruction_nll(
        numeric_mean, logits, numeric, observed, categorical
    )
    score = -nll - losses.gaussian_kl(mean, log_var)
    return score.masked_fill(score.isnan(), -math.inf)


def _mean(values, weights):
    """The mean of per-row ``values``, each times its row's weight (weights of
    mean 1 over the rows trained on: an estimate of their weighted mean)."""
    return values.mean() if weights is None else (values * weights).mean()


def _ratio(values, weights):
    """The weighted mean of ``values`` over the rows of positive weight
    (0 where there is none). ``weights`` broadcast against ``values``."""
    weights = weights.to(values.dtype).expand_as(values)
    return (values * weights).sum() / weights.sum().clamp(
        min=torch.finfo(values.dtype).tiny
    )


def _concat(batches):
    return Batch(
        numeric=torch.cat([b.numeric for b in batches]),
        observed=torch.cat([b.observed for b in batches]),
        categorical=torch.cat([b.categorical for b in batches]),
        complete=all(b.complete for b in batches),
    )
