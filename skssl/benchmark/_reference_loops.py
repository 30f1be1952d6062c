"""What users would write instead of skssl: the speed benchmark's references.

Both train the same network (built by the estimator, same seed) on the same
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

import torch
from torch.utils.data import DataLoader, TensorDataset

from .. import losses
from .._augment import corrupt
from .._training_data import Batch
from ._timing import forever


def reference_loss(model, batch, pool, config, generator):
    """The training objective, written as a standard loop would.

    Both branches, as in the benchmark; the VAE's is skipped when its weight
    is 0 (then the model has no decoder).
    """
    views = [
        corrupt(batch, pool, config.corruption_rate, config.noise_scale, generator)
        for _ in range(2)
    ]
    z1 = model.projection(model.encoder(*_fields(views[0]))[0])
    z2 = model.projection(model.encoder(*_fields(views[1]))[0])
    contrastive = losses.info_nce_cross_entropy(z1, z2, config.temperature)
    if config.vae_weight == 0:
        return config.contrastive_weight * contrastive
    mean, log_var = model.encoder(*_fields(batch))
    z = mean + (0.5 * log_var).exp() * torch.randn_like(mean)
    numeric_mean, logits = model.decoder(z)
    reconstruction = losses.reconstruction_nll(
        numeric_mean, logits, *_fields(batch)
    ).mean()
    kl = losses.gaussian_kl(mean, log_var).mean()
    n_columns = batch.numeric.shape[1] + batch.categorical.shape[1]
    vae = (reconstruction + config.kl_weight * kl) / n_columns
    return config.contrastive_weight * contrastive + config.vae_weight * vae


def _fields(batch):
    return batch.numeric, batch.observed, batch.categorical


def _host_tensors(encoded):
    return (
        torch.as_tensor(encoded.numeric, dtype=torch.float32),
        torch.as_tensor(encoded.observed),
        torch.as_tensor(encoded.categorical),
    )


def dataloader_loop(model, encoded, pool, config, device):
    """``run(n)``: ``n`` steps of a hand-written ``DataLoader(TensorDataset)`` loop."""
    loader = DataLoader(
        TensorDataset(*_host_tensors(encoded)),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    generator = torch.Generator(device=device).manual_seed(0)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    model.train()
    stream = forever(lambda: loader)
    running = 0.0

    def run(n_steps):
        nonlocal running
        for _ in range(n_steps):
            numeric, observed, categorical = (t.to(device) for t in next(stream))
            loss = reference_loss(
                model,
                # Rows of the pool's table: complete when it is, as in fit.
                Batch(numeric, observed, categorical, pool.complete),
                pool,
                config,
                generator,
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()  # logged every step, as training loops do

    return run


class _ObjectiveModule(torch.nn.Module):
    """The network with the objective as its output, as a skorch module."""

    def __init__(self, model, pool, config, generator):
        super().__init__()
        self.model = model
        self.pool = pool
        self.config = config
        self.generator = generator

    def forward(self, numeric, observed, categorical):
        batch = Batch(numeric, observed, categorical, self.pool.complete)
        return reference_loss(self.model, batch, self.pool, self.config, self.generator)


def skorch_loop(model, encoded, pool, config, device, max_batches):
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

    generator = torch.Generator(device=device).manual_seed(0)
    net = ObjectiveNet(
        _ObjectiveModule(model, pool, config, generator),
        criterion=torch.nn.Identity,  # unused: get_loss returns the objective
        optimizer=torch.optim.AdamW,
        lr=config.learning_rate,
        optimizer__weight_decay=config.weight_decay,
        batch_size=config.batch_size,
        iterator_train__shuffle=True,
        iterator_train__drop_last=True,
        train_split=None,
        max_epochs=1,
        device=str(device),
        verbose=0,
    ).initialize()
    numeric, observed, categorical = _host_tensors(encoded)
    index = torch.arange(max_batches * config.batch_size) % numeric.shape[0]
    rows = {
        "numeric": numeric[index],
        "observed": observed[index],
        "categorical": categorical[index],
    }

    def run(n_batches):
        n_rows = n_batches * config.batch_size
        net.partial_fit({name: values[:n_rows] for name, values in rows.items()})

    return run
