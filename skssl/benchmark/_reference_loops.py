"""What users would write instead of skssl: the speed benchmark's references.

Both train a copy of the network of skssl's own loop (a
:class:`skssl.training.TrainingRun`, same initial weights) on the same
objective, written the standard way: three encoder passes (two augmented views,
then the clean rows), InfoNCE as cross-entropy over the full ``(2B, 2B)``
logits, the ELBO terms, ``torch.optim.AdamW`` over the model's parameter
tensors, and the loss read back every step (``loss.item()``) as training loops
log it. The augmentation is skssl's own vectorised SCARF corruption, so the
references are not slowed by a per-row Python augmentation.

* :func:`dataloader_loop`: a hand-written loop over
  ``DataLoader(TensorDataset(...), shuffle=True)``.
* :func:`skorch_loop`: a skorch ``NeuralNet`` (skorch's own dataset and
  ``DataLoader``, its per-batch callbacks and history), the scikit-learn
  wrapper data scientists use for PyTorch models. Needs the optional
  ``skorch`` package.
"""

import dataclasses

import torch
from torch.utils.data import DataLoader, TensorDataset

from .. import losses
from ._timing import forever


def reference_loss(model, batch, pool, objective, generator):
    """The training objective, written as a standard loop would.

    Both branches, as in the benchmark; the VAE's is skipped when its weight
    is 0 (then the model has no decoder).
    """
    views = [objective.augment(batch, pool, generator) for _ in range(2)]
    z1 = model.projection(model.encoder(*_fields(views[0]))[0])
    z2 = model.projection(model.encoder(*_fields(views[1]))[0])
    contrastive = losses.info_nce_cross_entropy(z1, z2, objective.temperature)
    if objective.vae_weight == 0:
        return objective.contrastive_weight * contrastive
    mean, log_var = model.encoder(*_fields(batch))
    z = mean + (0.5 * log_var).exp() * torch.randn_like(mean)
    numeric_mean, logits = model.decoder(z)
    reconstruction = losses.reconstruction_nll(
        numeric_mean, logits, *_fields(batch)
    ).mean()
    kl = losses.gaussian_kl(mean, log_var).mean()
    vae = objective.vae_loss(reconstruction, kl, batch)
    return objective.contrastive_weight * contrastive + objective.vae_weight * vae


def _fields(batch):
    return batch.numeric, batch.observed, batch.categorical


def _as_batch(pool, numeric, observed, categorical):
    """Rows of the pool's table as a batch: complete when the pool is, as in fit."""
    return dataclasses.replace(
        pool, numeric=numeric, observed=observed, categorical=categorical
    )


def _host_tensors(encoded):
    return (
        torch.as_tensor(encoded.numeric, dtype=torch.float32),
        torch.as_tensor(encoded.observed),
        torch.as_tensor(encoded.categorical),
    )


def dataloader_loop(model, run):
    """``run(n)``: ``n`` steps of a hand-written ``DataLoader(TensorDataset)`` loop.

    ``model`` is a copy of the initial networks of ``run`` (a
    :class:`skssl.training.TrainingRun`), whose table, pool and objective it
    trains on.
    """
    params = run.session.params
    loader = DataLoader(
        TensorDataset(*_host_tensors(run.encoded)),
        batch_size=run.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    generator = torch.Generator(device=run.device).manual_seed(0)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=params["learning_rate"],
        weight_decay=params["weight_decay"],
    )
    model.train()
    stream = forever(lambda: loader)
    running = 0.0

    def train(n_steps):
        nonlocal running
        for _ in range(n_steps):
            parts = (t.to(run.device) for t in next(stream))
            batch = _as_batch(run.pool, *parts)
            loss = reference_loss(model, batch, run.pool, run.objective, generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()  # logged every step, as training loops do

    return train


class _ObjectiveModule(torch.nn.Module):
    """The network with the objective as its output, as a skorch module."""

    def __init__(self, model, pool, objective, generator):
        super().__init__()
        self.model = model
        self.pool = pool
        self.objective = objective
        self.generator = generator

    def forward(self, numeric, observed, categorical):
        batch = _as_batch(self.pool, numeric, observed, categorical)
        return reference_loss(
            self.model, batch, self.pool, self.objective, self.generator
        )


def skorch_loop(model, run, max_batches):
    """``run(n)``: a skorch ``NeuralNet`` epoch of ``n <= max_batches`` minibatches.

    skorch trains whole epochs, so ``run(n)`` is one ``partial_fit`` epoch
    over ``n`` batches' worth of rows (rows cycle when the table is smaller),
    cut from rows laid out once, before any timing. None when skorch is not
    installed.
    """
    try:
        from skorch import NeuralNet
    except ImportError:
        return None

    class ObjectiveNet(NeuralNet):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            return y_pred  # the module already returns the objective

    params = run.session.params
    generator = torch.Generator(device=run.device).manual_seed(0)
    net = ObjectiveNet(
        _ObjectiveModule(model, run.pool, run.objective, generator),
        criterion=torch.nn.Identity,  # unused: get_loss returns the objective
        optimizer=torch.optim.AdamW,
        lr=params["learning_rate"],
        optimizer__weight_decay=params["weight_decay"],
        batch_size=run.batch_size,
        iterator_train__shuffle=True,
        iterator_train__drop_last=True,
        train_split=None,
        max_epochs=1,
        device=str(run.device),
        verbose=0,
    ).initialize()
    numeric, observed, categorical = _host_tensors(run.encoded)
    index = torch.arange(max_batches * run.batch_size) % numeric.shape[0]
    rows = {
        "numeric": numeric[index],
        "observed": observed[index],
        "categorical": categorical[index],
    }

    def train(n_batches):
        n_rows = n_batches * run.batch_size
        net.partial_fit({name: values[:n_rows] for name, values in rows.items()})

    return train
