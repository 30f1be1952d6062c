"""PyTorch modules: input embedding, Gaussian encoder, decoder, projection head,
and the network sizes the estimators' parameters resolve to."""

import math
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn

from ._encoding import MISSING_CODE

# Hidden layers of the encoder when representation="latent" and
# hidden_layer_sizes=None (the default network's).
LATENT_HIDDEN_LAYER_SIZES = (256, 256)


def network_sizes(n_components, latent_dim, hidden_layer_sizes, representation):
    """The encoder's hidden-layer widths (a list) and latent width (``mu``'s)
    that the estimators' parameters resolve to.

    ``n_components`` is the width of ``transform``'s output. With
    ``representation="hidden"`` it is the sum of the hidden layers' widths:
    None splits it over two layers (the remainder in the first; one layer
    for ``n_components=1``), and an explicit ``hidden_layer_sizes`` must
    sum to it; ``latent_dim=None`` is ``n_components // 4`` (at least 1).
    With ``representation="latent"`` it is ``mu``'s width: ``latent_dim``
    must be None or equal to it, and ``hidden_layer_sizes=None`` is
    :data:`LATENT_HIDDEN_LAYER_SIZES`. The classifier resolves its
    parameters as ``"hidden"``: its head reads every hidden activation.

    Raises
    ------
    ValueError
        For sizes that are not positive integers, or that contradict
        ``n_components``, naming the parameters.
    """
    if hidden_layer_sizes is not None:
        hidden_layer_sizes = _positive_sizes(hidden_layer_sizes)
    if representation == "latent":
        if latent_dim is not None and latent_dim != n_components:
            raise ValueError(
                f"latent_dim={latent_dim} and n_components={n_components} "
                "differ, but with representation='latent' transform returns the "
                "latent mean, so n_components is its width. Leave latent_dim=None, "
                "or set n_components to it."
            )
        if hidden_layer_sizes is None:
            hidden_layer_sizes = list(LATENT_HIDDEN_LAYER_SIZES)
        return hidden_layer_sizes, n_components
    if hidden_layer_sizes is None:
        second = n_components // 2
        hidden_layer_sizes = [n_components - second, second] if second else [1]
    elif sum(hidden_layer_sizes) != n_components:
        raise ValueError(
            f"hidden_layer_sizes={tuple(hidden_layer_sizes)} sums to "
            f"{sum(hidden_layer_sizes)}, but n_components={n_components}: with "
            "representation='hidden', transform returns every hidden layer's "
            "activations, so their widths must sum to n_components. Set "
            f"n_components={sum(hidden_layer_sizes)}, or leave "
            "hidden_layer_sizes=None to split n_components over two layers."
        )
    if latent_dim is None:
        latent_dim = max(1, n_components // 4)
    return hidden_layer_sizes, latent_dim


def _positive_sizes(hidden):
    """``hidden_layer_sizes`` as a list of positive ints, or a ValueError."""
    sizes = [hidden] if isinstance(hidden, Integral) else list(hidden)
    if not sizes or any(
        not isinstance(h, Integral) or isinstance(h, bool) or h < 1 for h in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a non-empty sequence of positive "
            f"integers, got {hidden!r}."
        )
    return [int(h) for h in sizes]


def embedding_dim_for(cardinalities):
    """Width of the categorical embeddings (fast.ai's rule of thumb, capped at 16).

    One width for all columns lets a single lookup serve every column.
    """
    if len(cardinalities) == 0:
        return 0
    largest = max(int(c) for c in cardinalities)
    return int(min(16, max(2, round(1.6 * largest**0.56))))


def _mlp(sizes):
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


class _EmbeddingLookup(torch.autograd.Function):
    """``F.embedding(indices, weight)``, its backward one ``index_add_``.

    On the CPU, ``nn.Embedding``'s backward adds each looked-up row's gradient
    into the table with a tensor operation per index, which dominates a step
    on tables of many categorical columns. ``index_add_`` runs the same
    additions in the same order (each table row's gradients summed in
    increasing index order) in one kernel, so the gradient is bit for bit
    the same, at one thread or several (``index_put_`` with
    ``accumulate=True``, as fast, is not deterministic with two threads).
    Timings: docs/scale.md.
    """

    @staticmethod
    def forward(ctx, weight, indices):
        ctx.save_for_backward(indices)
        ctx.n_weights = weight.shape[0]
        return F.embedding(indices, weight)

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        dim = grad.shape[-1]
        grad_weight = grad.new_zeros((ctx.n_weights, dim))
        grad_weight.index_add_(0, indices.reshape(-1), grad.reshape(-1, dim))
        return grad_weight, None


def embedding_lookup(embedding: nn.Embedding, indices: torch.Tensor) -> torch.Tensor:
    """``embedding(indices)``, with the backward of ``_EmbeddingLookup`` on
    the CPU (elsewhere, the device's own embedding backward)."""
    if embedding.weight.device.type != "cpu":
        return embedding(indices)
    return _EmbeddingLookup.apply(embedding.weight, indices)


class InputLayer(nn.Module):
    """Concatenate numeric values, missing indicators and category embeddings."""

    def __init__(self, n_numeric, missing_indicator_index, cardinalities):
        super().__init__()
        self.n_numeric = n_numeric
        self.register_buffer(
            "missing_indicator_index",
            torch.as_tensor(missing_indicator_index, dtype=torch.long),
        )
        self.n_categorical = len(cardinalities)
        self.embedding_dim = embedding_dim_for(cardinalities)
        if self.n_categorical:
            offsets = torch.zeros(self.n_categorical, dtype=torch.long)
            offsets[1:] = torch.cumsum(torch.as_tensor(cardinalities[:-1]), 0)
            self.register_buffer("offsets", offsets)
            self.embedding = nn.Embedding(int(sum(cardinalities)), self.embedding_dim)
        self.n_outputs = (
            n_numeric
            + len(missing_indicator_index)
            + self.n_categorical * self.embedding_dim
        )

    def forward(self, numeric, observed, categorical):
        parts = [numeric]
        if len(self.missing_indicator_index):
            missing = ~observed[:, self.missing_indicator_index]
            parts.append(missing.to(numeric.dtype))
        if self.n_categorical:
            embedded = embedding_lookup(self.embedding, categorical + self.offsets)
            parts.append(embedded.flatten(1).to(numeric.dtype))
        return torch.cat(parts, dim=1) if len(parts) > 1 else numeric


class GaussianEncoder(nn.Module):
    """Map a row to the mean and log-variance of a diagonal Gaussian posterior."""

    def __init__(self, input_layer, hidden_layer_sizes, latent_dim):
        super().__init__()
        self.input_layer = input_layer
        sizes = [input_layer.n_outputs, *hidden_layer_sizes]
        self.body = _mlp(sizes)
        self.mean = nn.Linear(sizes[-1], latent_dim)
        self.log_var = nn.Linear(sizes[-1], latent_dim)

    def forward(self, numeric, observed, categorical):
        return self.from_features(self.input_layer(numeric, observed, categorical))

    def posterior_mean(self, numeric, observed, categorical):
        """The posterior mean alone (the log-variance is not computed)."""
        features = self.input_layer(numeric, observed, categorical)
        return self.from_features(features, log_var_rows=None)[0]

    @property
    def hidden_layer_sizes(self):
        """The hidden layers' widths, in layer order."""
        return [
            layer.out_features for layer in self.body if isinstance(layer, nn.Linear)
        ]

    @property
    def hidden_width(self):
        """Columns of :meth:`hidden_activations`: the hidden layers' widths, summed."""
        return sum(self.hidden_layer_sizes)

    @property
    def latent_dim(self):
        """Width of the posterior mean."""
        return self.mean.out_features

    @torch.no_grad()
    def hidden_activations(self, numeric, observed, categorical, out=None):
        """The activations of every hidden layer, concatenated, in layer order.

        For inference (no gradient). Each layer writes its output straight
        into its columns of ``out`` (allocated when None; on the CPU it may be
        a view of the caller's output array), where the next layer reads it:
        no concatenation and no copy of the activations.
        """
        features = self.input_layer(numeric, observed, categorical)
        if out is None:
            out = features.new_empty((features.shape[0], self.hidden_width))
        x, start = features, 0
        for layer in self.body:
            if isinstance(layer, nn.Linear):
                block = out[:, start : start + layer.out_features]
                torch.addmm(layer.bias, x, layer.weight.T, out=block)
                block.relu_()  # _mlp follows every Linear with a ReLU
                x, start = block, start + layer.out_features
        return out

    def hidden_layers(self, features):
        """Every hidden layer's activations, concatenated, and the last one's
        (with gradients, for the classification head)."""
        parts, x = [], features
        for layer in self.body:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                parts.append(x)
        return torch.cat(parts, dim=1) if len(parts) > 1 else x, x

    def from_features(self, features, log_var_rows=slice(None)):
        """Posterior parameters from the input layer's output.

        The log-variance is computed for ``log_var_rows`` only (None: for no
        row, and None is returned for it): training passes its views and clean
        rows through the encoder together, and only the clean rows'
        log-variance is used. Computing the rest would cost a forward and,
        through the zero gradients of its rows, a backward matrix product of
        that layer for nothing.
        """
        return self.posterior(self.body(features), log_var_rows)

    def posterior(self, hidden, log_var_rows=slice(None)):
        """Posterior parameters from the last hidden layer's activations
        (``log_var_rows`` as in :meth:`from_features`)."""
        if log_var_rows is None:
            return self.mean(hidden), None
        # Clamping keeps exp(log_var) finite in float32 early in training.
        log_var = self.log_var(hidden[log_var_rows]).clamp(-12.0, 12.0)
        return self.mean(hidden), log_var


class Decoder(nn.Module):
    """Map a latent code to numeric means and categorical logits.

    Categorical logits are laid out as (batch, n_categorical, max_cardinality)
    so one cross-entropy call covers every column; slots beyond a column's
    cardinality, and the "missing" code, are masked to -inf.
    """

    def __init__(self, latent_dim, hidden_layer_sizes, n_numeric, cardinalities):
        super().__init__()
        sizes = [latent_dim, *reversed(hidden_layer_sizes)]
        self.body = _mlp(sizes)
        self.n_numeric = n_numeric
        self.n_categorical = len(cardinalities)
        self.max_cardinality = max((int(c) for c in cardinalities), default=0)
        self.out = nn.Linear(
            sizes[-1], n_numeric + self.n_categorical * self.max_cardinality
        )
        if self.n_categorical:
            slots = torch.arange(self.max_cardinality)
            invalid = slots[None, :] >= torch.as_tensor(cardinalities)[:, None]
            invalid[:, MISSING_CODE] = True  # never predicted
            self.register_buffer("invalid_logits", invalid)

    def forward(self, z):
        out = self.out(self.body(z))
        numeric = out[:, : self.n_numeric]
        if not self.n_categorical:
            return numeric, None
        logits = out[:, self.n_numeric :].reshape(
            -1, self.n_categorical, self.max_cardinality
        )
        logits = logits.masked_fill(self.invalid_logits, -math.inf)
        return numeric, logits


class ClassificationHead(nn.Module):
    """Class logits, linear in the raw columns and in every hidden activation.

    The raw columns enter as the input layer's numeric values and missing
    flags, and categorical columns one-hot (a per-category weight vector,
    looked up: the same as a linear layer on the one-hot codes, without
    materialising them). A linear model of the input, what a logistic
    regression on one-hot features fits, is therefore one of the functions
    the head represents; the hidden activations add what the
    self-supervised encoder learned. The one-hot weights start at zero.
    """

    def __init__(self, input_layer, hidden_width, cardinalities, n_classes):
        super().__init__()
        self.n_dense_inputs = input_layer.n_numeric + len(
            input_layer.missing_indicator_index
        )
        self.dense = nn.Linear(self.n_dense_inputs + hidden_width, n_classes)
        self.n_categorical = len(cardinalities)
        if self.n_categorical:
            self.register_buffer("offsets", input_layer.offsets.clone())
            self.one_hot = nn.Embedding(int(sum(cardinalities)), n_classes)
            nn.init.zeros_(self.one_hot.weight)

    @property
    def n_classes(self):
        return self.dense.out_features

    def forward(self, features, hidden, categorical):
        dense = torch.cat([features[:, : self.n_dense_inputs], hidden], dim=1)
        logits = self.dense(dense)
        if self.n_categorical:
            weights = self.one_hot(categorical + self.offsets)
            logits = logits + weights.sum(dim=1).to(logits.dtype)
        return logits


class ProjectionHead(nn.Module):
    """Two-layer MLP on the latent mean; the contrastive loss is applied here."""

    def __init__(self, latent_dim, projection_dim):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, projection_dim),
            nn.ReLU(),
            nn.Linear(projection_dim, projection_dim),
        )

    def forward(self, latent):
        return self.net(latent)


class ContrastiveVAE(nn.Module):
    """The encoder with its optional decoder (VAE branch), projection head and
    classification head.

    A branch whose loss weight is 0 is not built at all, so it costs nothing.
    The classification head (``n_classes``, for the classifier) is a
    :class:`ClassificationHead`.
    """

    def __init__(
        self,
        n_numeric,
        missing_indicator_index,
        cardinalities,
        hidden_layer_sizes,
        latent_dim,
        projection_dim,
        with_decoder,
        with_projection,
        n_classes=None,
    ):
        super().__init__()
        # The arguments, so that a pickled model is rebuilt from them and its
        # weights alone (skssl._persistence).
        arguments = dict(locals())  # only the parameters so far
        del arguments["self"], arguments["__class__"]
        self.constructor_arguments = arguments
        cardinalities = [int(c) for c in cardinalities]
        self.encoder = GaussianEncoder(
            InputLayer(n_numeric, missing_indicator_index, cardinalities),
            hidden_layer_sizes,
            latent_dim,
        )
        self.decoder = (
            Decoder(latent_dim, hidden_layer_sizes, n_numeric, cardinalities)
            if with_decoder
            else None
        )
        self.projection = (
            ProjectionHead(latent_dim, projection_dim) if with_projection else None
        )
        # Built last, so that the other networks' initial weights do not
        # depend on whether there is one.
        self.classifier = (
            ClassificationHead(
                self.encoder.input_layer,
                self.encoder.hidden_width,
                cardinalities,
                n_classes,
            )
            if n_classes
            else None
        )

    def class_logits(self, numeric, observed, categorical):
        """Logits of the classification head for rows of an encoded table."""
        features = self.encoder.input_layer(numeric, observed, categorical)
        hidden = self.encoder.hidden_layers(features)[0]
        return self.classifier(features, hidden, categorical)

    def architecture(self):
        """The constructor arguments that shape the networks' parameters.

        ``projection_dim`` is None without a projection head.
        """
        return {
            "hidden_layer_sizes": self.encoder.hidden_layer_sizes,
            "latent_dim": self.encoder.latent_dim,
            "projection_dim": (
                None if self.projection is None else self.projection.net[0].out_features
            ),
            "with_decoder": self.decoder is not None,
            "n_classes": None if self.classifier is None else self.classifier.n_classes,
        }
