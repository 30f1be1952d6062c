"""The scikit-learn face of the package: :class:`ContrastiveVAETransformer`."""

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import losses, metrics
from ._augment import corrupt
from ._encoding import TabularEncoder, check_numeric_dtype, resolve_categorical_mask
from ._networks import ContrastiveVAE
from ._training import TrainingConfig, train, train_epoch, training_optimizer
from ._training_data import (
    HostStreamedData,
    RowReservoir,
    TrainingData,
    device_row_limit,
)

# Rows per chunk at inference: bounds memory for any n_samples.
_INFERENCE_CHUNK = 65536
# Training rows on which representation diagnostics are computed.
_DIAGNOSTIC_ROWS = 1024
# Uniformity (t=2) above this: the normalised embeddings sit in a narrow cone
# (mean squared pairwise distance about 0.25, angles around 30 degrees), the
# trivial minimiser of InfoNCE when views carry no information on the row.
_UNIFORMITY_COLLAPSE = -0.5
# Rows whose column values the augmentation draws from: all training rows when
# they fit on the device, otherwise (streamed data, partial_fit) a uniform
# sample of this many.
_MARGINAL_POOL_ROWS = 65536


class RepresentationCollapseWarning(UserWarning):
    """The learned embeddings span far fewer dimensions than available."""


def _empty_representation_history():
    return {"alignment": [], "uniformity": [], "effective_rank": []}


class _RepresentationMonitor:
    """Alignment, uniformity and effective rank of the posterior means.

    Computed on a fixed subset of training rows, with fixed augmentations,
    so that successive epochs are comparable (Wang & Isola 2020,
    arXiv 2005.10242; effective rank of Roy & Vetterli 2007).
    """

    def __init__(self, data, config, seed):
        generator = torch.Generator(device=data.numeric.device).manual_seed(seed)
        n = min(_DIAGNOSTIC_ROWS, data.n_samples)
        rows = torch.randperm(
            data.n_samples, generator=generator, device=data.numeric.device
        )
        self.clean = data.rows(rows[:n])
        rate = config.corruption_rate
        self.views = [
            corrupt(self.clean, data, rate, config.noise_scale, generator)
            for _ in range(2)
        ]
        self.history = _empty_representation_history()

    @torch.no_grad()
    def embed(self, model, batch):
        return model.encoder.posterior_mean(
            batch.numeric, batch.observed, batch.categorical
        )

    def __call__(self, model):
        clean = self.embed(model, self.clean)
        views = [self.embed(model, view) for view in self.views]
        self.history["alignment"].append(metrics.alignment(*views))
        self.history["uniformity"].append(metrics.uniformity(clean))
        self.history["effective_rank"].append(metrics.effective_rank(clean))


# Per-epoch loss curves, in the order train_epoch returns the loss terms.
_HISTORY_ATTRIBUTES = (
    "loss_curve_",
    "contrastive_loss_curve_",
    "reconstruction_loss_curve_",
    "kl_loss_curve_",
)


def _state_on_cpu(state):
    """A copy of an optimiser ``state_dict`` with its tensors in host memory."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {key: _state_on_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_state_on_cpu(value) for value in state)
    return state


def resolve_device(device):
    """The torch device for ``device`` ("auto": CUDA when available, else CPU)."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='auto' or 'cpu'."
        )
    return resolved


# Rows seen in training under max_epochs="auto", and its bounds in epochs.
_AUTO_ROWS_SEEN = 500_000
_AUTO_EPOCH_RANGE = (10, 100)


def resolve_max_epochs(max_epochs, n_train):
    """The epoch budget for ``max_epochs`` (an int, or "auto") and ``n_train`` rows."""
    if max_epochs != "auto":
        return max_epochs
    low, high = _AUTO_EPOCH_RANGE
    return int(np.clip(np.ceil(_AUTO_ROWS_SEEN / n_train), low, high))


def _elbo(model, numeric, observed, categorical):
    """Per-row ELBO at the posterior mean (see ``score_samples``)."""
    mean, log_var = model.encoder(numeric, observed, categorical)
    numeric_mean, logits = model.decoder(mean)
    nll = losses.reconstruction_nll(
        numeric_mean, logits, numeric, observed, categorical
    )
    return -nll - losses.gaussian_kl(mean, log_var)


def _vae_branch_fitted(estimator):
    """`available_if` check: methods that need the decoder."""
    if hasattr(estimator, "model_"):
        return estimator.model_.decoder is not None
    return estimator.vae_weight > 0


def _seed_sequence(random_state):
    """Integer seeds drawn from ``random_state``, never from a global RNG."""
    if random_state is None:
        # A fresh generator seeded by the OS: check_random_state(None) would
        # draw from (and advance) NumPy's global RNG.
        return np.random.default_rng().integers(0, 2**31 - 1, size=3)
    return check_random_state(random_state).randint(0, 2**31 - 1, size=3)


def _pool_rows(max_device_rows):
    """Rows of the augmentation's marginal pool: a quarter of the device's
    row budget at most (``max_device_rows``, None for no limit)."""
    if max_device_rows is None:
        return _MARGINAL_POOL_ROWS
    return max(1, min(_MARGINAL_POOL_ROWS, max_device_rows // 4))


def _as_table(X):
    """Nested lists as an array, and string arrays as object arrays.

    The categorical mask needs the number of columns before validation, so
    lists become arrays first: ``object``, which keeps numbers numbers and
    strings strings, as NumPy's own choice would turn every number of a row
    with a string into text. String arrays become ``object`` too: numeric
    text then converts, as in an object array, and other text is reported
    as a column to mark categorical.
    """
    if isinstance(X, list | tuple):
        return np.asarray(X, dtype=object)
    if isinstance(X, np.ndarray) and X.dtype.kind in "US":
        return X.astype(object)
    return X


def _is_other_dataframe(X):
    """Whether ``X`` is a non-pandas table (polars, pyarrow) that converts to one."""
    module = type(X).__module__.split(".")[0]
    return module in ("polars", "pyarrow") and hasattr(X, "to_pandas")


class ContrastiveVAETransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Self-supervised tabular representation: contrastive learning + a VAE.

    An MLP encoder maps each row to a diagonal Gaussian posterior
    ``q(z | x) = N(mu(x), diag(sigma^2(x)))``. It is trained without labels on

    ``contrastive_weight * L_contrastive + vae_weight * L_VAE``

    where ``L_contrastive`` is the symmetric InfoNCE (NT-Xent) loss between two
    augmented views of each row, computed on a projection head over ``mu``
    with in-batch negatives, and ``L_VAE`` is the negative ELBO
    (reconstruction + ``kl_weight`` * KL) of the clean row, divided by the
    number of input columns. Views are made by SCARF corruption (each row gets
    ``floor(corruption_rate * n_features)`` of its columns replaced by values
    drawn from those columns' empirical marginals) plus Gaussian noise on
    numeric columns. The method follows arXiv 2504.04032 (contrastive +
    variational self-supervision) with SCARF's augmentation (arXiv 2106.15147).

    ``transform`` returns, by default, the activations of the encoder's hidden
    layers, concatenated: the losses act on ``mu`` and on its projection, and
    the layers furthest from them keep more of what the learned invariances
    discard, which is what a linear model downstream needs (SimCLR's finding
    on projection heads, arXiv 2002.05709; Bordes et al., "Guillotine
    regularization", arXiv 2206.13378). ``representation="latent"`` returns
    the posterior mean ``mu`` instead. Numeric columns are
    standardised with statistics learned in ``fit``; missing values are
    imputed with the mean and flagged with indicator inputs; categorical
    columns (pandas ``category``/``object``/``string``/``bool``, or those listed
    in ``categorical_features``) are embedded, with at most ``max_categories``
    levels per column. Training runs in float32 on ``device`` (the networks in
    bfloat16 with ``mixed_precision=True``); inference runs
    in float64 so that each row's output does not depend on the rest of the
    batch.

    Parameters
    ----------
    n_components : int, default=128
        Dimension of the latent space (the output of ``transform`` when
        ``representation="latent"``).
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    representation : {"hidden", "latent"}, default="hidden"
        What ``transform`` returns: "hidden", the ReLU activations of all the
        encoder's hidden layers, concatenated (``sum(hidden_layer_sizes)``
        columns); "latent", the posterior mean ``mu`` (``n_components``
        columns), which ``inverse_transform`` decodes. Training is the same
        for both. On validation parts of the shared CC18 training rows
        (2 seeds, test rows unread), a linear probe scored 86.5 % on
        "hidden" against 85.3 % on "latent" (``docs/benchmark.md``).
    projection_dim : int, default=64
        Output width of the projection head used by the contrastive loss.
    temperature : float, default=0.2
        Temperature tau of the InfoNCE loss.
    contrastive_weight : float, default=1.0
        Weight lambda_1 of the contrastive loss. 0 switches the contrastive
        branch (augmented views and projection head) off entirely.
    contrastive_loss : {"infonce", "balanced", "renyi"}, default="infonce"
        The contrastive objective (see :mod:`skssl.losses`): symmetric
        InfoNCE; InfoNCE with separately weighted attraction and repulsion
        (arXiv 2510.10572); or RényiCL's skew Rényi bound (arXiv 2208.06270).
    attraction_weight, repulsion_weight : float, default=1.0
        Balancing weights of the positive-pair and negative-pair terms when
        ``contrastive_loss="balanced"``; (1, 1) is InfoNCE.
    renyi_alpha : float, default=2.0
        Order of the Rényi divergence when ``contrastive_loss="renyi"``.
    self_labeling : float in [0, 1], default=0.0
        Self-labelling refinement (arXiv 2106.14749) of the InfoNCE targets:
        the weight of similarities estimated through the positive in the soft
        label. 0 is plain InfoNCE. Applies to ``contrastive_loss="infonce"``.
    momentum_mixup : float, default=0.0
        Weight of the momentum-mixup loss (arXiv 2106.14749): queries mixed
        with another row's positive, after the input layer, trained against
        soft labels. 0 switches it off.
    vae_weight : float, default=1.0
        Weight lambda_2 of the VAE loss. 0 switches the variational branch
        (decoder) off entirely; ``score``, ``score_samples`` and
        ``inverse_transform`` are then unavailable.
    kl_weight : float, default=0.1
        beta on the KL term inside the training ELBO.
    corruption_rate : float, default=0.3
        Fraction of each row's columns replaced by SCARF corruption. 0 turns
        augmentation off entirely (both views are the clean row, no noise).
    noise_scale : float, default=0.1
        Standard deviation, in standardised units, of the Gaussian noise added
        to numeric columns of augmented views.
    categorical_features : "auto", None or array-like, default="auto"
        Which columns are categorical: "auto" takes pandas ``category``,
        ``object``, ``string`` and ``bool`` columns (none for arrays); or
        a list of column indices or names, or a boolean mask.
    max_categories : int, default=64
        Most frequent categories kept per categorical column; rarer and
        unseen categories share one code.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
        "adam" applies ``weight_decay`` as an L2 penalty; "sgd" uses momentum
        0.9.
    learning_rate : float, default=0.002
    weight_decay : float, default=1e-4
    batch_size : int, default=256
        Rows per minibatch (at most ``n_samples``). Each row brings two views,
        so the contrastive loss sees ``2 * batch_size - 2`` negatives.
    max_epochs : int or "auto", default="auto"
        Most passes over the training rows. "auto" bounds the rows seen to
        about 500,000: ``clip(ceil(500_000 / n_train), 10, 100)`` epochs, i.e.
        100 epochs up to 5,000 rows and a fit time that stops growing with
        ``n_samples`` beyond (about a minute on 2 CPU cores). The number used
        is in ``max_epochs_``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their loss
        stops improving, and restore the best weights. Otherwise stop when
        the training loss stops improving.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-4
    device : str or torch.device, default="auto"
        "auto" trains on CUDA when available, else on the CPU. The fitted
        model is kept on the CPU, so it pickles and loads anywhere.
    mixed_precision : bool, default=False
        Train with the networks' matrix products in bfloat16 under
        ``torch.autocast``; weights, optimiser state, losses and inference stay
        in float32/float64. Pays on GPUs with bfloat16 tensor cores (Ampere and
        later) and on CPUs with native bfloat16 instructions (AVX-512 BF16 or
        AMX); elsewhere bfloat16 is emulated and slower. Results differ from
        float32 training within bfloat16 rounding.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, minibatches, augmentations and the
        validation split. Global RNGs are never used or changed.
    verbose : int, default=0
        Print the loss after every epoch.
    monitor_representation : bool, default=False
        Record, after every epoch, the alignment and uniformity (Wang & Isola
        2020) and the effective rank of the posterior means of up to 1,024
        training rows, in ``representation_history_``. Costs a few forward
        passes per epoch.
    partial_fit_epochs : int, default=1
        Epochs over the chunk given to each :meth:`partial_fit` call.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained networks (on the CPU).
    table_encoder_ : object
        The learned column encoding (standardisation, vocabularies).
    loss_curve_ : list of float
        Total training loss per epoch.
    contrastive_loss_curve_, reconstruction_loss_curve_, kl_loss_curve_ : list
        The loss terms per epoch (reconstruction and KL in nats per sample).
    validation_loss_curve_ : list of float
        Validation loss per epoch (empty without early stopping).
    best_loss_ : float
        Best monitored (validation or training) loss.
    n_iter_ : int
        Epochs run.
    max_epochs_ : int
        The epoch budget used (``max_epochs`` resolved).
    fit_time_ : float
        Seconds spent in the training loop.
    device_ : str
        The device training ran on.
    effective_rank_ : float
        Effective rank of the final posterior means of up to 1,024 training
        rows. A :class:`RepresentationCollapseWarning` is raised when it is
        below a fifth of ``min(n_components, n_inputs)`` (``n_inputs``: the
        width of the encoded input), when the embeddings have no variance, or
        when their uniformity exceeds -0.5 (all directions within a narrow
        cone).
    representation_history_ : dict of lists
        ``alignment``, ``uniformity`` and ``effective_rank`` per epoch (only
        with ``monitor_representation=True``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined only when X has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear, unsupervised dimensionality reduction.
    sklearn.neural_network.BernoulliRBM : Another unsupervised neural transformer.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skssl import ContrastiveVAETransformer
    >>> X, _ = load_breast_cancer(return_X_y=True)
    >>> ssl = ContrastiveVAETransformer(
    ...     hidden_layer_sizes=(32, 16), max_epochs=5, random_state=0
    ... )
    >>> Z = ssl.fit_transform(X)
    >>> Z.shape
    (569, 48)
    >>> ssl.set_params(representation="latent").transform(X).shape
    (569, 128)
    >>> ssl.get_feature_names_out()[:2].tolist()
    ['contrastivevaetransformer0', 'contrastivevaetransformer1']
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "representation": [StrOptions({"hidden", "latent"})],
        "projection_dim": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "contrastive_weight": [Interval(Real, 0, None, closed="left")],
        "contrastive_loss": [StrOptions({"infonce", "balanced", "renyi"})],
        "attraction_weight": [Interval(Real, 0, None, closed="left")],
        "repulsion_weight": [Interval(Real, 0, None, closed="left")],
        "renyi_alpha": [Interval(Real, 0, None, closed="neither")],
        "self_labeling": [Interval(Real, 0, 1, closed="both")],
        "momentum_mixup": [Interval(Real, 0, None, closed="left")],
        "vae_weight": [Interval(Real, 0, None, closed="left")],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
        "corruption_rate": [Interval(Real, 0, 1, closed="both")],
        "noise_scale": [Interval(Real, 0, None, closed="left")],
        "categorical_features": [StrOptions({"auto"}), None, "array-like"],
        "max_categories": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"adamw", "adam", "sgd"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "mixed_precision": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "monitor_representation": ["boolean"],
        "partial_fit_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=128,
        *,
        hidden_layer_sizes=(256, 256),
        representation="hidden",
        projection_dim=64,
        temperature=0.2,
        contrastive_weight=1.0,
        contrastive_loss="infonce",
        attraction_weight=1.0,
        repulsion_weight=1.0,
        renyi_alpha=2.0,
        self_labeling=0.0,
        momentum_mixup=0.0,
        vae_weight=1.0,
        kl_weight=0.1,
        corruption_rate=0.3,
        noise_scale=0.1,
        categorical_features="auto",
        max_categories=64,
        optimizer="adamw",
        learning_rate=0.002,
        weight_decay=1e-4,
        batch_size=256,
        max_epochs="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="auto",
        mixed_precision=False,
        random_state=None,
        verbose=0,
        monitor_representation=False,
        partial_fit_epochs=1,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.representation = representation
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.contrastive_weight = contrastive_weight
        self.contrastive_loss = contrastive_loss
        self.attraction_weight = attraction_weight
        self.repulsion_weight = repulsion_weight
        self.renyi_alpha = renyi_alpha
        self.self_labeling = self_labeling
        self.momentum_mixup = momentum_mixup
        self.vae_weight = vae_weight
        self.kl_weight = kl_weight
        self.corruption_rate = corruption_rate
        self.noise_scale = noise_scale
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.mixed_precision = mixed_precision
        self.random_state = random_state
        self.verbose = verbose
        self.monitor_representation = monitor_representation
        self.partial_fit_epochs = partial_fit_epochs

    # ------------------------------------------------------------------ input
    def _validate_input(self, X, reset):
        """Validate ``X`` and return it as an array or DataFrame for the encoder.

        Numeric-only input goes through scikit-learn's ``check_array``; input
        with categorical columns is checked column by column by the encoder.
        """
        if _is_other_dataframe(X):
            # polars and pyarrow tables: pandas keeps their column names and
            # turns categorical and string columns into dtypes the encoder
            # recognises as categorical.
            X = X.to_pandas()
        X = _as_table(X)
        is_frame = isinstance(X, pd.DataFrame)
        if reset:
            n_features = (
                X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
            )
            names = (
                np.asarray([str(c) for c in X.columns], dtype=object)
                if is_frame
                else None
            )
            mask = (
                resolve_categorical_mask(
                    X, self.categorical_features, n_features, names
                )
                if n_features is not None
                else None
            )
        else:
            mask = self.table_encoder_.categorical_mask
        has_categorical = mask is not None and mask.any()

        if not has_categorical:
            if is_frame:
                for name, dtype in X.dtypes.items():
                    check_numeric_dtype(dtype, str(name))
            try:
                X = validate_data(
                    self,
                    X,
                    reset=reset,
                    # Sparse tables (e.g. from a ColumnTransformer) are encoded
                    # column by column from CSC; stored NaNs are missing.
                    accept_sparse=("csr", "csc"),
                    # Integer and boolean tables stay as they are: the encoder
                    # converts a block of columns (fit) or of rows (transform)
                    # at a time, not the whole table up front.
                    dtype="numeric",
                    ensure_all_finite="allow-nan",
                    ensure_min_samples=2 if reset else 1,
                )
            except ValueError as error:
                if "could not convert" not in str(error):
                    raise
                raise ValueError(
                    f"X has non-numeric values ({error}). Mark the columns that "
                    "hold categories with categorical_features, or pass a "
                    "DataFrame with 'category', 'object' or 'string' columns."
                ) from error
            return X, mask
        if sparse.issparse(X):
            raise TypeError(
                "A sparse X can only hold numeric columns; categorical_features "
                "marks some as categorical. Pass a DataFrame for mixed columns."
            )
        if is_frame:
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] < (2 if reset else 1):
                raise ValueError(
                    f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while "
                    f"a minimum of {2 if reset else 1} is required by "
                    f"{type(self).__name__}."
                )
            return X, mask
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=None,
            ensure_all_finite=False,
            ensure_min_samples=2 if reset else 1,
        )
        return pd.DataFrame(X), mask

    def _training_config(self):
        return TrainingConfig(
            contrastive_weight=self.contrastive_weight,
            vae_weight=self.vae_weight,
            kl_weight=self.kl_weight,
            temperature=self.temperature,
            contrastive_loss=self.contrastive_loss,
            attraction_weight=self.attraction_weight,
            repulsion_weight=self.repulsion_weight,
            renyi_alpha=self.renyi_alpha,
            self_labeling=self.self_labeling,
            momentum_mixup=self.momentum_mixup,
            corruption_rate=self.corruption_rate,
            noise_scale=self.noise_scale,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            mixed_precision=self.mixed_precision,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=self.verbose,
        )

    def _check_branches(self):
        """Errors for parameter combinations that constraints cannot express."""
        if self.contrastive_weight == 0 and self.vae_weight == 0:
            raise ValueError(
                "contrastive_weight and vae_weight are both 0: nothing to train. "
                "Set at least one of them to a positive value."
            )
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, Integral) else list(hidden)
        if not hidden or any(
            not isinstance(h, Integral) or isinstance(h, bool) or h < 1 for h in hidden
        ):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive "
                f"integers, got {self.hidden_layer_sizes!r}."
            )
        return hidden

    def _check_architecture(self, model, hidden_layer_sizes):
        """Refuse parameters that need other networks than ``model``'s.

        ``partial_fit`` continues training the fitted networks; a parameter
        changed since (e.g. by ``set_params``) that would shape them
        differently cannot be honoured. A branch switched off (its weight set
        to 0) is fine: its head gets no gradient (only the optimiser's weight
        decay and remaining momentum move it). One switched on needs a head
        the networks do not have.
        """
        built = model.architecture()
        wanted = {
            "hidden_layer_sizes": list(hidden_layer_sizes),
            "n_components": self.n_components,
        }
        if built["projection_dim"] is not None and self.contrastive_weight > 0:
            wanted["projection_dim"] = self.projection_dim
        changed = [
            f"{key} (the networks have {built[key]!r}, now {value!r})"
            for key, value in wanted.items()
            if built[key] != value
        ]
        if self.contrastive_weight > 0 and built["projection_dim"] is None:
            changed.append("contrastive_weight (the networks have no projection head)")
        if self.vae_weight > 0 and not built["with_decoder"]:
            changed.append("vae_weight (the networks have no decoder)")
        if changed:
            raise ValueError(
                "partial_fit continues training the fitted networks, but these "
                f"parameters no longer match them: {'; '.join(changed)}. Restore "
                "them, or call fit to train new networks."
            )

    def _build_model(self, table_encoder, init_seed, hidden_layer_sizes):
        """Fresh networks for the columns ``table_encoder`` produces.

        ``hidden_layer_sizes`` is the list :meth:`_check_branches` returns.
        """
        # Weight initialisation draws from torch's global RNG: fork it so the
        # caller's RNG state is left untouched, and seed it for reproducibility.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            return ContrastiveVAE(
                n_numeric=len(table_encoder.numeric_index_),
                missing_indicator_index=table_encoder.missing_indicator_index_,
                cardinalities=table_encoder.cardinalities_,
                hidden_layer_sizes=hidden_layer_sizes,
                n_components=self.n_components,
                projection_dim=self.projection_dim,
                with_decoder=self.vae_weight > 0,
                with_projection=self.contrastive_weight > 0,
            )

    def _check_collapse(self, model, monitor):
        """Warn when the final representation has collapsed; return the report."""
        final = monitor.embed(model, monitor.clean)
        n_inputs = model.encoder.input_layer.n_outputs
        report = metrics.collapse_report(final, min(self.n_components, n_inputs))
        if report["collapsed"] or report["uniformity"] > _UNIFORMITY_COLLAPSE:
            warnings.warn(
                f"The learned representation has collapsed: effective rank "
                f"{report['effective_rank']:.2f} of {self.n_components} components, "
                f"relative variance {report['relative_variance']:.2g}, uniformity "
                f"{report['uniformity']:.2f} (0 means all rows embed alike). Raise "
                "temperature, lower corruption_rate or learning_rate.",
                RepresentationCollapseWarning,
                stacklevel=3,
            )
        return report

    def _store_fitted(self, table_encoder, model, device, collapse_report):
        """The fitted state that :meth:`fit` and :meth:`partial_fit` share."""
        self.table_encoder_ = table_encoder
        self.model_ = model.cpu()
        self.device_ = str(device)
        self.effective_rank_ = collapse_report["effective_rank"]

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the encoder on ``X`` without labels.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training data. NaN marks missing values. DataFrames may hold
            numeric, ``category``, ``object``, ``string`` and ``bool`` columns.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        hidden_layer_sizes = self._check_branches()
        X, mask = self._validate_input(X, reset=True)
        device = resolve_device(self.device)
        init_seed, train_seed, split_seed = (
            int(s) for s in _seed_sequence(self.random_state)
        )

        table_encoder = TabularEncoder(mask, self.max_categories).fit(X)
        # Training runs in float32: encoding straight into it keeps fit's
        # memory near one float32 copy of the table.
        encoded = table_encoder.transform(X, dtype=np.float32)
        rows = np.arange(encoded.n_samples)
        validation_rows = None
        if self.early_stopping:
            n_validation = max(1, int(round(self.validation_fraction * len(rows))))
            if len(rows) - n_validation < 2:
                raise ValueError(
                    "early_stopping with validation_fraction="
                    f"{self.validation_fraction} leaves fewer than 2 training rows "
                    f"out of {len(rows)}."
                )
            rows, validation_rows = train_test_split(
                rows, test_size=n_validation, random_state=split_seed
            )

        max_device_rows = device_row_limit(encoded, device)
        pool_rows = _pool_rows(max_device_rows)

        if validation_rows is None:  # all rows, without a copy on the CPU
            train_data = TrainingData.from_encoded(
                encoded, device, max_device_rows=max_device_rows
            )
            validation_data = None
        else:
            train_data = TrainingData.from_encoded(
                encoded.take(rows), device, max_device_rows=max_device_rows
            )
            validation_limit = max_device_rows
            if isinstance(train_data, HostStreamedData):
                # Streamed chunks take up to half the budget and the marginal
                # pool a quarter; the validation rows stay on the device only
                # if they fit in the last quarter.
                validation_limit //= 4
            validation_data = TrainingData.from_encoded(
                encoded.take(validation_rows), device, max_device_rows=validation_limit
            )
        # Freed once split or moved to a GPU: training holds its own copies.
        del encoded
        model = self._build_model(table_encoder, init_seed, hidden_layer_sizes)
        model = model.to(device)
        config = self._training_config()
        config.batch_size = min(self.batch_size, train_data.n_samples)
        config.max_epochs = resolve_max_epochs(self.max_epochs, train_data.n_samples)
        generator = torch.Generator(device=device).manual_seed(train_seed)
        pool = train_data.marginal_pool(pool_rows, generator)
        monitor = _RepresentationMonitor(pool, config, split_seed)
        history = train(
            model,
            train_data,
            validation_data,
            config,
            generator,
            validation_seed=split_seed,
            pool=pool,
            epoch_callback=monitor if self.monitor_representation else None,
        )
        report = self._check_collapse(model, monitor)

        self._partial_fit_state = None
        self._store_fitted(table_encoder, model, device, report)
        self.loss_curve_ = history.loss
        self.contrastive_loss_curve_ = history.contrastive
        self.reconstruction_loss_curve_ = history.reconstruction
        self.kl_loss_curve_ = history.kl
        self.validation_loss_curve_ = history.validation
        self.best_loss_ = min(history.validation or history.loss)
        self.n_iter_ = len(history.loss)
        self.max_epochs_ = config.max_epochs
        self.fit_time_ = history.seconds
        if self.monitor_representation:
            self.representation_history_ = monitor.history
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on one chunk of rows, for data that do not fit in memory.

        Each call runs ``partial_fit_epochs`` epochs over ``X`` and continues
        from the state the previous call left: weights, optimiser moments and
        random stream. The first call (on an unfitted transformer) fixes the
        column encoding (standardisation statistics, category vocabularies)
        from its chunk, so make it representative. The augmentation draws
        replacement values from a uniform sample of at most 65,536 rows of
        all chunks seen (reservoir sampling), so memory stays bounded.
        Early stopping and ``max_epochs`` do not apply. After :meth:`fit`,
        ``partial_fit`` fine-tunes the fitted model.

        Works with dask-ml's ``Incremental`` wrapper, which calls it once per
        block of a dask array or dataframe.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            One chunk of training rows (at least 2).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The transformer, trained on one more chunk.
        """
        fitted = hasattr(self, "model_")
        X, mask = self._validate_input(X, reset=not fitted)
        if X.shape[0] < 2:
            raise ValueError(
                f"partial_fit needs at least 2 rows per call (contrastive pairs "
                f"need in-batch negatives), got {X.shape[0]}."
            )
        hidden_layer_sizes = self._check_branches()
        if fitted:
            self._check_architecture(self.model_, hidden_layer_sizes)
        device = resolve_device(self.device)
        table_encoder = (
            self.table_encoder_
            if fitted
            else TabularEncoder(mask, self.max_categories).fit(X)
        )
        encoded = table_encoder.transform(X, dtype=np.float32)

        state = getattr(self, "_partial_fit_state", None)
        if state is None:
            init_seed, train_seed, reservoir_seed = (
                int(s) for s in _seed_sequence(self.random_state)
            )
            state = {
                "reservoir": RowReservoir(
                    _MARGINAL_POOL_ROWS, np.random.default_rng(reservoir_seed)
                ),
                "train_seed": train_seed,
                "generator": None,
                "optimizer": None,
            }
            if not fitted:
                self.model_ = self._build_model(
                    table_encoder, init_seed, hidden_layer_sizes
                )
                for name in _HISTORY_ATTRIBUTES:
                    setattr(self, name, [])
                self.fit_time_ = 0.0
        generator = torch.Generator(device=device)
        if state["generator"] is None:
            generator.manual_seed(state["train_seed"])
        elif state["generator"][0] == str(device):
            generator.set_state(state["generator"][1])
        else:
            # Another device's generator state cannot be loaded: a new stream,
            # seeded by the epochs so far so that it does not replay the
            # first call's draws.
            sequence = np.random.SeedSequence(
                [state["train_seed"], len(self.loss_curve_)]
            )
            generator.manual_seed(int(sequence.generate_state(1)[0]))

        model = self.model_.to(device)
        config = self._training_config()
        config.batch_size = min(self.batch_size, encoded.n_samples)
        row_limit = device_row_limit(encoded, device)
        pool_rows = _pool_rows(row_limit)
        data = TrainingData.from_encoded(
            encoded,
            device,
            max_device_rows=None
            if row_limit is None
            else max(1, row_limit - pool_rows),
        )
        pool = TrainingData.from_encoded(
            state["reservoir"].update(encoded).table, device, max_device_rows=pool_rows
        ).marginal_pool(pool_rows, generator)
        monitor = _RepresentationMonitor(pool, config, state["train_seed"])
        if self.monitor_representation:
            # The monitor appends to the history kept across calls (and
            # started here if an earlier fit or call did not monitor).
            monitor.history = getattr(self, "representation_history_", None) or (
                _empty_representation_history()
            )
            self.representation_history_ = monitor.history

        start = time.perf_counter()
        with training_optimizer(model, config, state["optimizer"]) as optimizer:
            for _ in range(self.partial_fit_epochs):
                values = train_epoch(
                    model,
                    data,
                    pool,
                    config,
                    generator,
                    optimizer,
                    len(self.loss_curve_) + 1,
                )
                for name, value in zip(_HISTORY_ATTRIBUTES, values):
                    getattr(self, name).append(value)
                if self.monitor_representation:
                    model.eval()
                    monitor(model)
            state["optimizer"] = _state_on_cpu(optimizer.state_dict())
        model.eval()
        report = self._check_collapse(model, monitor)

        state["generator"] = (str(device), generator.get_state())
        self._partial_fit_state = state
        self._store_fitted(table_encoder, model, device, report)
        self.validation_loss_curve_ = []
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = len(self.loss_curve_)
        self.fit_time_ += time.perf_counter() - start
        return self

    # -------------------------------------------------------------- inference
    def _inference_model(self, device):
        """A float64 copy of the fitted networks on ``device``."""
        return copy.deepcopy(self.model_).to(device=device, dtype=torch.float64).eval()

    def _map_rows(self, X, rows_of_chunk, width=None, writes_output=False):
        """``rows_of_chunk(model, numeric, observed, categorical)`` for every row.

        Rows are encoded and passed through the float64 inference model chunk
        by chunk, and each chunk's result is written into one preallocated
        float64 array of shape ``(n_samples, width)`` (``(n_samples,)`` when
        ``width`` is None): beyond the input and that output, memory stays
        bounded whatever the number of rows. With ``writes_output``,
        ``rows_of_chunk`` also gets ``out``: on the CPU a tensor view of the
        chunk's rows of that array, to compute into (None on other devices).
        """
        check_is_fitted(self)
        X, _ = self._validate_input(X, reset=False)
        device = resolve_device(self.device)
        model = self._inference_model(device)
        n_samples = X.shape[0]
        out = np.empty((n_samples,) if width is None else (n_samples, width))
        rows = X.iloc if isinstance(X, pd.DataFrame) else X
        with torch.no_grad():
            for start in range(0, n_samples, _INFERENCE_CHUNK):
                stop = min(start + _INFERENCE_CHUNK, n_samples)
                encoded = self.table_encoder_.transform(rows[start:stop])
                inputs = (
                    torch.as_tensor(encoded.numeric, dtype=torch.float64).to(device),
                    torch.as_tensor(encoded.observed).to(device),
                    torch.as_tensor(encoded.categorical).to(device),
                )
                if not writes_output:
                    out[start:stop] = rows_of_chunk(model, *inputs).cpu().numpy()
                    continue
                view = (
                    torch.from_numpy(out[start:stop]) if device.type == "cpu" else None
                )
                result = rows_of_chunk(model, *inputs, out=view)
                if result is not view:
                    out[start:stop] = result.cpu().numpy()
        return out

    @property
    def _n_features_out(self):
        """Width of ``transform``'s output (for ``get_feature_names_out``)."""
        if self.representation == "latent":
            return self.model_.encoder.mean.out_features
        return self.model_.encoder.hidden_width

    def transform(self, X):
        """The learned representation of each row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out), dtype float64
            With ``representation="hidden"``, the encoder's hidden-layer
            activations (``sum(hidden_layer_sizes)`` columns); with
            ``"latent"``, the posterior mean (``n_components`` columns).
        """
        check_is_fitted(self)  # before the output width is read
        width = self._n_features_out
        if self.representation == "latent":

            def posterior_mean(model, numeric, observed, categorical):
                return model.encoder.posterior_mean(numeric, observed, categorical)

            return self._map_rows(X, posterior_mean, width=width)

        def hidden_activations(model, numeric, observed, categorical, out):
            return model.encoder.hidden_activations(
                numeric, observed, categorical, out=out
            )

        return self._map_rows(X, hidden_activations, width=width, writes_output=True)

    @available_if(_vae_branch_fitted)
    def score_samples(self, X):
        """Evidence lower bound (ELBO) of each row, in nats.

        ``log p(x | z=mu) - KL(q(z|x) || p(z))``: the reconstruction term is
        evaluated at the posterior mean (deterministic, so rows do not depend
        on each other), numeric columns under a unit-variance Gaussian in
        standardised units, categorical columns under the decoder's softmax;
        missing entries are not scored. The KL term uses weight 1 whatever
        ``kl_weight``, so scores compare across models. Higher is better.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._map_rows(X, _elbo)

    @available_if(_vae_branch_fitted)
    def score(self, X, y=None):
        """Mean ELBO of the rows of ``X`` (higher is better).

        Lets ``GridSearchCV`` tune the transformer without labels.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    @available_if(_vae_branch_fitted)
    def inverse_transform(self, X):
        """Decode latent codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. the output of ``transform`` with
            ``representation="latent"``.

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, n_features_in_)
            Decoder means for numeric columns (original units) and the most
            probable category for categorical columns. A DataFrame when the
            input had categorical columns, else a float64 array.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"{self.n_components} (n_components)."
            )
        device = resolve_device(self.device)
        model = self._inference_model(device)
        numeric, codes = [], []
        with torch.no_grad():
            for start in range(0, Z.shape[0], _INFERENCE_CHUNK):
                z = torch.as_tensor(
                    Z[start : start + _INFERENCE_CHUNK], dtype=torch.float64
                )
                numeric_mean, logits = model.decoder(z.to(device))
                numeric.append(numeric_mean.cpu().numpy())
                if logits is not None:
                    # Never decode to the shared "rare" code when a real
                    # category is available.
                    logits[:, :, 1] = -torch.inf
                    codes.append(logits.argmax(dim=2).cpu().numpy())
        numeric = np.concatenate(numeric)
        codes = (
            np.concatenate(codes) if codes else np.zeros((len(numeric), 0), np.int64)
        )
        has_categorical = self.table_encoder_.categorical_mask.any()
        return self.table_encoder_.inverse_transform(
            numeric, codes, as_frame=has_categorical
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
