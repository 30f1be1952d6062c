"""The training loop: device-resident data, index-drawn minibatches, AdamW.

One host synchronisation per epoch (to read the epoch's losses); nothing per
step. A non-finite loss stops training with a :class:`FloatingPointError`.
"""

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from sklearn.exceptions import ConvergenceWarning

from . import losses
from ._augment import corrupt
from ._flat_parameters import flat_parameters
from ._training_data import Batch

LOSS_TERMS = ("loss", "contrastive", "reconstruction", "kl")


@dataclass
class TrainingConfig:
    contrastive_weight: float
    vae_weight: float
    kl_weight: float
    temperature: float
    contrastive_loss: str
    attraction_weight: float
    repulsion_weight: float
    renyi_alpha: float
    self_labeling: float
    momentum_mixup: float
    corruption_rate: float
    noise_scale: float
    optimizer: str
    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    mixed_precision: bool
    early_stopping: bool
    n_iter_no_change: int
    tol: float
    verbose: int


@dataclass
class History:
    loss: list = field(default_factory=list)
    contrastive: list = field(default_factory=list)
    reconstruction: list = field(default_factory=list)
    kl: list = field(default_factory=list)
    validation: list = field(default_factory=list)
    best_epoch: int = None
    converged: bool = False
    seconds: float = 0.0


# Devices with PyTorch's fused (single-kernel) optimiser implementations.
FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def make_optimizer(name, parameters, learning_rate, weight_decay):
    """The optimiser ``name`` over ``parameters``, fused where PyTorch has it.

    The fused kernels update parameters, gradients and moments in one pass
    instead of one pass per arithmetic step: on 2 CPU cores AdamW's update of
    the default network went from about 0.85 ms to 0.1 ms (0.5-3 % of a
    batch-256 training step end to end). They round differently from the
    multi-pass update (by about 1e-7) but are deterministic.
    """
    parameters = list(parameters)
    fused = all(p.device.type in FUSED_OPTIMIZER_DEVICES for p in parameters) or None
    if name == "adamw":
        return torch.optim.AdamW(
            parameters, lr=learning_rate, weight_decay=weight_decay, fused=fused
        )
    if name == "adam":
        # Adam with weight decay as an L2 penalty: the coupling AdamW removes.
        return torch.optim.Adam(
            parameters, lr=learning_rate, weight_decay=weight_decay, fused=fused
        )
    if name == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=learning_rate,
            momentum=0.9,
            weight_decay=weight_decay,
            fused=fused,
        )
    raise ValueError(f"Unknown optimizer {name!r}.")


@contextmanager
def training_optimizer(model, config, state=None):
    """The configured optimiser over ``model``'s parameters, laid out flat.

    Inside the block the parameters are views of one flat tensor (see
    :func:`~skssl._flat_parameters.flat_parameters`), which the optimiser
    updates in a few vectorised operations. ``state`` is an optimiser
    ``state_dict`` to resume from (``partial_fit``).
    """
    with flat_parameters(model) as flat:
        optimizer = make_optimizer(
            config.optimizer, [flat], config.learning_rate, config.weight_decay
        )
        if state is not None:
            optimizer.load_state_dict(state)  # moves it to the parameter's device
        yield optimizer


def _concat(batches):
    return Batch(
        numeric=torch.cat([b.numeric for b in batches]),
        observed=torch.cat([b.observed for b in batches]),
        categorical=torch.cat([b.categorical for b in batches]),
        complete=all(b.complete for b in batches),
    )


def contrastive_loss(z1, z2, config):
    """The configured contrastive objective between two views' projections."""
    if config.contrastive_loss == "balanced":
        return losses.balanced_info_nce(
            z1,
            z2,
            config.temperature,
            attraction_weight=config.attraction_weight,
            repulsion_weight=config.repulsion_weight,
        )
    if config.contrastive_loss == "renyi":
        return losses.renyi_contrastive(
            z1, z2, config.temperature, alpha=config.renyi_alpha
        )
    if config.self_labeling > 0:
        return losses.self_labeling_info_nce(
            z1, z2, config.temperature, refinement=config.self_labeling
        )
    return losses.info_nce(z1, z2, config.temperature)


def _momentum_mixup_loss(model, view1, view2, keys, config, generator):
    """Momentum mixup (arXiv 2106.14749): mixed queries against detached keys.

    Rows are mixed after the input layer, where categorical codes have become
    embeddings and can be interpolated.
    """
    n = view1.n_samples
    layer = model.encoder.input_layer
    q = layer(view1.numeric, view1.observed, view1.categorical)
    k = layer(view2.numeric, view2.observed, view2.categorical)
    draw = torch.rand(n, generator=generator, device=q.device, dtype=q.dtype)
    # theta = max(l, 1 - l) with l uniform: each query keeps most of itself.
    theta = torch.maximum(draw, 1.0 - draw)
    mixed, perm = losses.mix_with_permuted_keys(q, k, theta, generator=generator)
    queries = model.projection(model.encoder.from_features(mixed, log_var_rows=None)[0])
    targets = losses.mixup_targets(theta, perm)
    return losses.soft_target_info_nce(
        queries, keys.detach(), targets, config.temperature
    )


def batch_losses(model, batch, pool, config, generator):
    """Loss terms for one minibatch.

    Returns a tensor ``[total, contrastive, reconstruction, kl]`` where the
    reconstruction and KL entries are per-sample means (nats). Branches whose
    weight is 0 are skipped entirely and report 0. With
    ``config.mixed_precision`` the networks' matrix products run in bfloat16
    under autocast; the loss functions compute in float32 (see
    :mod:`skssl.losses`).
    """
    with torch.autocast(
        batch.numeric.device.type,
        dtype=torch.bfloat16,
        enabled=config.mixed_precision,
    ):
        return _batch_losses(model, batch, pool, config, generator)


def _batch_losses(model, batch, pool, config, generator):
    device = batch.numeric.device
    zero = torch.zeros((), device=device, dtype=batch.numeric.dtype)
    contrastive = reconstruction = kl = zero
    total = zero
    n = batch.n_samples

    # The two views and the clean rows go through the encoder in one call:
    # one large matrix product is faster than three small ones.
    inputs = []
    if config.contrastive_weight > 0:
        inputs += [
            corrupt(batch, pool, config.corruption_rate, config.noise_scale, generator),
            corrupt(batch, pool, config.corruption_rate, config.noise_scale, generator),
        ]
        views = list(inputs)
    if config.vae_weight > 0:
        inputs.append(batch)
    stacked = _concat(inputs) if len(inputs) > 1 else inputs[0]
    features = model.encoder.input_layer(
        stacked.numeric, stacked.observed, stacked.categorical
    )
    # The log-variance only of the clean rows, the VAE's (the last n).
    clean_rows = slice(-n, None) if config.vae_weight > 0 else None
    mean, log_var = model.encoder.from_features(features, log_var_rows=clean_rows)
    # No-op in float32; under autocast the reparametrisation and its noise
    # stay in float32.
    mean = mean.float()

    if config.contrastive_weight > 0:
        projected = model.projection(mean[: 2 * n])
        contrastive = contrastive_loss(projected[:n], projected[n : 2 * n], config)
        if config.momentum_mixup > 0:
            contrastive = contrastive + config.momentum_mixup * _momentum_mixup_loss(
                model, *views, projected[n : 2 * n], config, generator
            )
        total = total + config.contrastive_weight * contrastive
    if config.vae_weight > 0:
        mean, log_var = mean[-n:], log_var.float()
        noise = torch.randn(
            mean.shape, generator=generator, device=device, dtype=mean.dtype
        )
        z = mean + (0.5 * log_var).exp() * noise
        numeric_mean, logits = model.decoder(z)
        reconstruction = losses.reconstruction_nll(
            numeric_mean, logits, batch.numeric, batch.observed, batch.categorical
        ).mean()
        kl = losses.gaussian_kl(mean, log_var).mean()
        # Normalised per input column so that vae_weight means the same thing
        # on narrow and wide tables.
        n_columns = batch.numeric.shape[1] + batch.categorical.shape[1]
        vae = (reconstruction + config.kl_weight * kl) / n_columns
        total = total + config.vae_weight * vae
    return torch.stack([total, contrastive, reconstruction, kl])


def train_step(model, batch, pool, config, generator, optimizer):
    """One optimiser step on ``batch``; returns its detached loss terms."""
    terms = batch_losses(model, batch, pool, config, generator)
    # The flat gradient buffer must stay: backward accumulates into its views.
    optimizer.zero_grad(set_to_none=False)
    terms[0].backward()
    optimizer.step()
    return terms.detach()


def _epoch(model, data, pool, config, generator, optimizer):
    sums = torch.zeros(len(LOSS_TERMS), device=pool.numeric.device)
    for batch in data.epoch_batches(config.batch_size, generator):
        terms = train_step(model, batch, pool, config, generator, optimizer)
        sums += terms * batch.n_samples
    return sums / data.n_samples


def train_epoch(model, data, pool, config, generator, optimizer, epoch):
    """One pass over ``data``; returns the epoch's mean loss terms as floats.

    Raises
    ------
    FloatingPointError
        If a loss term is NaN or infinite.
    """
    model.train()
    values = _epoch(model, data, pool, config, generator, optimizer).tolist()
    # ^ the one host synchronisation per epoch
    if not all(map(_finite, values)):
        raise FloatingPointError(
            f"Training diverged at epoch {epoch}: the loss became "
            f"{values[0]} (terms {dict(zip(LOSS_TERMS, values))}). Lower "
            "learning_rate, raise temperature, or check the input for extreme "
            "values."
        )
    return values


@torch.no_grad()
def validation_loss(model, data, pool, config, seed):
    """Total loss on held-out rows with a fixed augmentation seed.

    Reusing the seed every epoch makes epochs comparable: the only thing that
    changes is the model.
    """
    device = pool.numeric.device
    generator = torch.Generator(device=device).manual_seed(seed)
    sums = torch.zeros((), device=device)
    for batch in data.ordered_batches(max(config.batch_size, 2)):
        sums += batch_losses(model, batch, pool, config, generator)[0] * batch.n_samples
    return sums / data.n_samples


def train(
    model,
    train_data,
    validation_data,
    config,
    generator,
    validation_seed,
    pool=None,
    epoch_callback=None,
):
    """Fit ``model`` in place and return its :class:`History`.

    ``pool`` holds the rows whose column values the augmentation draws from
    (default: ``train_data``). With ``validation_data`` (early stopping), the
    weights of the epoch with the best validation loss are restored at the
    end. ``epoch_callback(model)`` runs after every epoch, in eval mode.
    """
    pool = train_data if pool is None else pool
    start = time.perf_counter()
    history = History()
    best, best_state, epochs_without_improvement = float("inf"), None, 0
    with training_optimizer(model, config) as optimizer:
        for epoch in range(config.max_epochs):
            values = train_epoch(
                model, train_data, pool, config, generator, optimizer, epoch + 1
            )
            for name, value in zip(LOSS_TERMS, values):
                getattr(history, name).append(value)
            monitored = values[0]
            if validation_data is not None:
                model.eval()
                monitored = validation_loss(
                    model, validation_data, pool, config, validation_seed
                ).item()
                if not _finite(monitored):
                    raise FloatingPointError(
                        f"Validation loss became {monitored} at epoch {epoch + 1}."
                    )
                history.validation.append(monitored)
            if epoch_callback is not None:
                model.eval()
                epoch_callback(model)
            if config.verbose:
                message = f"Epoch {epoch + 1}, loss = {values[0]:.6f}"
                if validation_data is not None:
                    message += f", validation loss = {monitored:.6f}"
                print(message)

            if monitored < best - config.tol:
                epochs_without_improvement = 0
            else:
                epochs_without_improvement += 1
            if monitored < best:
                best = monitored
                history.best_epoch = epoch + 1
                if validation_data is not None:
                    best_state = {
                        k: v.detach().clone() for k, v in model.state_dict().items()
                    }
            if epochs_without_improvement >= config.n_iter_no_change:
                history.converged = True
                break

    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if not history.converged:
        warnings.warn(
            f"Training stopped after max_epochs={config.max_epochs} epochs before the "
            f"{'validation' if validation_data is not None else 'training'} loss "
            f"stopped improving by tol={config.tol} for "
            f"{config.n_iter_no_change} consecutive epochs. Consider raising "
            "max_epochs.",
            ConvergenceWarning,
            stacklevel=3,
        )
    history.seconds = time.perf_counter() - start
    return history


def _finite(value):
    return value == value and abs(value) != float("inf")
