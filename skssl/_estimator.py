"""The scikit-learn face of the package: :class:`ContrastiveVAETransformer`.

Parameters, their constraints, the docstring and public methods of a few
lines each. Input validation is in :mod:`skssl._input`, training in
:mod:`skssl.training` and inference in :mod:`skssl._inference`; the fitted
attributes are read off the :class:`~skssl.training.TrainingState` that
training returns.
"""

from __future__ import annotations

import functools
import types
from numbers import Integral

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._base import BaseContrastiveVAE
from ._devices import resolve_device
from ._inference import decode_rows, elbo_rows, output_width, transform_rows
from ._input import validate_sample_weight


def _has_decoder(estimator):
    """Whether the fitted networks (before fit: the parameters) have a decoder."""
    if hasattr(estimator, "model_"):
        return estimator.model_.decoder is not None
    return estimator.vae_weight > 0


class _needs_decoder:
    """A method that needs the VAE's decoder (``score``, ``score_samples``,
    ``inverse_transform``).

    Without one (``vae_weight=0``) the attribute does not exist, as with
    scikit-learn's ``available_if`` (``hasattr`` is False, so pipelines and
    searches see the method missing), and its AttributeError says what to
    do ``instead``: the message a search's per-candidate warning shows.
    """

    def __init__(self, instead):
        self.instead = instead

    def __call__(self, method):
        self.method = method
        functools.update_wrapper(self, method)
        return self

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.method
        if not _has_decoder(obj):
            raise AttributeError(
                f"{type(obj).__name__}.{self.name} needs the VAE's decoder, which "
                f"vae_weight=0 does not build. {self.instead}"
            )
        return types.MethodType(self.method, obj)


class ContrastiveVAETransformer(TransformerMixin, BaseContrastiveVAE):
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

    ``transform`` returns ``n_components`` columns: by default, the
    activations of the encoder's hidden layers, concatenated (two layers of
    256 and a ``mu`` of 128 with the defaults). The losses act on ``mu`` and
    on its projection, and the layers furthest from them keep more of what
    the learned invariances discard, which is what a linear model downstream
    needs (SimCLR's finding on projection heads, arXiv 2002.05709; Bordes et
    al., "Guillotine regularization", arXiv 2206.13378).
    ``representation="latent"`` returns the posterior mean ``mu`` instead.
    ``inverse_transform`` decodes either. Numeric columns are
    standardised with statistics learned in ``fit``; missing values are
    imputed with the mean and flagged with indicator inputs; categorical
    columns (pandas ``category``/``object``/``string``/``bool``, or those listed
    in ``categorical_features``) are embedded, with at most ``max_categories``
    levels per column. Training runs in float32 on ``device`` (the networks in
    bfloat16 with ``mixed_precision=True``); inference runs
    in float64 so that each row's output does not depend on the other rows'
    values (its position in the batch can change its last bits).

    Parameters
    ----------
    n_components : int, default=512
        Width of ``transform``'s output: with ``representation="hidden"`` the
        hidden layers' widths summed, with ``"latent"`` the width of ``mu``.
    latent_dim : int or None, default=None
        Width of the posterior mean ``mu``, the latent space the losses act
        on. None: ``n_components // 4`` (at least 1) with
        ``representation="hidden"``, ``n_components`` with ``"latent"``
        (where a value other than ``n_components`` is a ValueError).
    hidden_layer_sizes : tuple of int or None, default=None
        Widths of the encoder's hidden layers; the decoder mirrors them.
        None: with ``representation="hidden"``, ``n_components`` split over
        two layers (the remainder of an odd split in the first; one layer
        for ``n_components=1``); with ``"latent"``, ``(256, 256)``. With
        ``"hidden"`` a tuple must sum to ``n_components`` (else a
        ValueError). The sizes used are in ``hidden_layer_sizes_`` and
        ``latent_dim_``.
    representation : {"hidden", "latent"}, default="hidden"
        What ``transform`` returns: "hidden", the ReLU activations of all the
        encoder's hidden layers, concatenated; "latent", the posterior mean
        ``mu``. The objective is the same for both, and the same sizes train
        the same networks; docs/benchmark.md compares the two under a linear
        probe. A fitted transformer changes representation when
        ``n_components`` follows, e.g. ``set_params(representation="latent",
        n_components=ssl.latent_dim_)``; ``transform`` raises a ValueError
        when ``n_components`` is not the fitted width.
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
        ``inverse_transform`` then do not exist (their AttributeError says
        what to use instead).
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
        ``object``, ``string`` and ``bool`` columns (none for arrays), except
        ``object`` and ``string`` columns whose values are at least 90 %
        numbers (as text): those are read as numbers, their other values as
        missing, with a warning; or a list of column indices or names, or a
        boolean mask.
    max_categories : int, default=64
        Most frequent categories kept per categorical column; rarer and
        unseen categories share one code.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
        "adam" applies ``weight_decay`` as an L2 penalty; "sgd" uses momentum
        0.9.
    learning_rate : float, default=0.002
    learning_rate_schedule : {"constant", "cosine", "warmup_cosine", \
"one_cycle"}, default="cosine"
        How the rate changes over ``fit``'s ``max_epochs_`` epochs, step by
        step: "constant" keeps it; "cosine" decays it to 0 along a half
        cosine, which reaches a given accuracy in fewer epochs than a
        constant rate (docs/time_to_accuracy.md); "warmup_cosine"
        first rises linearly over 5 % of the steps, "one_cycle" rises from
        ``learning_rate / 25`` over 30 % of the steps, then decays to 0.
        The schedule spans the whole budget even when the fit stops early.
        ``partial_fit`` keeps the rate constant.
    weight_decay : float, default=1e-4
    batch_size : int, default=256
        Rows per minibatch (at most ``n_samples``). Each row brings two views,
        so the contrastive loss sees ``2 * batch_size - 2`` negatives.
    max_epochs : int or "auto", default="auto"
        Most passes over the training rows. "auto" bounds the rows seen to
        about 60,000: ``clip(ceil(60_000 / n_train), 3, 100)`` epochs, i.e.
        100 epochs up to 600 rows and a fit time that stops growing with
        ``n_samples`` beyond 20,000 rows (docs/time_to_accuracy.md has the
        study that chose it). The number used
        is in ``max_epochs_``; ``n_iter_ == max_epochs_`` means the budget
        ran out before the loss stopped improving. An int budget that runs
        out so warns (``ConvergenceWarning``); "auto", chosen by the package,
        does not.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their loss
        stops improving, and restore the best weights. Otherwise stop when
        the training loss stops improving.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-4
    device : str or torch.device, default="auto"
        "auto" trains on CUDA when available, else on the CPU; any torch
        device this machine can train on, else a ValueError naming it ("mps"
        is refused: inference runs in float64, which MPS lacks). The fitted
        model is kept on the CPU, so it saves and loads anywhere
        (docs/persistence.md).
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
        Print, after every epoch, the loss and its terms, the validation loss
        (with early stopping), the epoch's time and rows per second, to
        stdout; with tqdm installed, fits running longer than 2 s also show a
        progress bar over the rows.
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
    hidden_layer_sizes_ : tuple of int
        The encoder's hidden-layer widths (``hidden_layer_sizes`` resolved).
    latent_dim_ : int
        The width of ``mu`` (``latent_dim`` resolved).
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
        below a fifth of ``min(latent_dim_, n_inputs)`` (``n_inputs``: the
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
    >>> ssl = ContrastiveVAETransformer(n_components=48, max_epochs=5, random_state=0)
    >>> Z = ssl.fit_transform(X)
    >>> Z.shape
    (569, 48)
    >>> ssl.hidden_layer_sizes_, ssl.latent_dim_
    ((24, 24), 12)
    >>> ssl.get_feature_names_out()[[0, 24]].tolist()
    ['contrastivevaetransformer_hidden1_0', 'contrastivevaetransformer_hidden2_0']
    >>> ssl.inverse_transform(Z).shape
    (569, 30)
    >>> latent = ssl.set_params(representation="latent", n_components=12)
    >>> latent.transform(X).shape
    (569, 12)
    """

    _parameter_constraints = {
        **BaseContrastiveVAE._parameter_constraints,
        "representation": [StrOptions({"hidden", "latent"})],
        "partial_fit_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=512,
        *,
        latent_dim=None,
        hidden_layer_sizes=None,
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
        learning_rate_schedule="cosine",
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
        self.latent_dim = latent_dim
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
        self.learning_rate_schedule = learning_rate_schedule
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

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: None = None, sample_weight: ArrayLike | None = None
    ) -> ContrastiveVAETransformer:
        """Train the encoder on ``X`` without labels.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training data. NaN marks missing values. DataFrames may hold
            numeric, ``category``, ``object``, ``string`` and ``bool`` columns.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows in the loss: each row's terms
            (its contrastive anchors, its reconstruction and KL terms) are
            multiplied by its weight, scaled to mean 1, so that a minibatch's
            loss estimates the weighted mean (the recorded loss curves are
            weighted means). A row of weight 0 adds nothing to the loss but
            is still drawn into minibatches, serves as a negative for the
            other rows and lends its values to the augmentation; the column
            encoding (standardisation, vocabularies) is learned from all rows.
            Not equivalent to repeating rows. With early stopping the
            held-out rows' weights weight the validation loss. Not supported
            with ``contrastive_loss="renyi"``.

        Returns
        -------
        self : object
            Fitted transformer.

        Raises
        ------
        ValueError, TypeError
            For input that cannot be encoded, naming the column (infinity,
            complex or non-numeric values in numeric columns, numbers beyond
            float64, unhashable categories).
        skssl.training.DeviceOutOfMemoryError
            If the device runs out of memory (the message names it and the
            batch size; the device memory the call held is released).

        A call that does not return (an error, ``KeyboardInterrupt``) leaves
        the transformer as it was: unfitted, or with its previous fit.
        """
        session = self._session()
        X, mask = self._validate(X, reset=True)
        sample_weight = validate_sample_weight(sample_weight, X)
        return self._publish(session.fit(X, mask, sample_weight=sample_weight))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self, X: ArrayLike, y: None = None, sample_weight: ArrayLike | None = None
    ) -> ContrastiveVAETransformer:
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
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the chunk's rows in the loss, as for :meth:`fit`
            (scaled to mean 1 within the chunk).

        Returns
        -------
        self : object
            The transformer, trained on one more chunk.
        """
        fitted = hasattr(self, "model_")
        X, mask = self._validate(X, reset=not fitted)
        sample_weight = validate_sample_weight(sample_weight, X)
        state = self._training_state if fitted else None
        session = self._session()
        return self._publish(
            session.partial_fit(X, mask, state, sample_weight=sample_weight)
        )

    # -------------------------------------------------------------- inference
    def _output_width(self):
        """``transform``'s width: ``n_components``, or a ValueError when the
        fitted networks give another for ``representation`` (parameters set
        after ``fit``)."""
        width = output_width(self.model_, self.representation)
        if width != self.n_components:
            what = (
                f"latent_dim_={self.latent_dim_}"
                if self.representation == "latent"
                else f"hidden_layer_sizes_={self.hidden_layer_sizes_}"
            )
            raise ValueError(
                f"n_components={self.n_components}, but with representation="
                f"{self.representation!r} the fitted networks give {width} columns "
                f"({what}). Set n_components={width}, or fit again."
            )
        return width

    def get_feature_names_out(self, input_features=None):
        """Names of ``transform``'s columns, saying where each comes from.

        ``contrastivevaetransformer_hidden{layer}_{unit}`` (layers numbered
        from 1) with ``representation="hidden"``,
        ``contrastivevaetransformer_latent_{dimension}`` with ``"latent"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (n_components,)
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        self._output_width()
        prefix = type(self).__name__.lower()
        if self.representation == "latent":
            names = [f"{prefix}_latent_{j}" for j in range(self.latent_dim_)]
        else:
            names = [
                f"{prefix}_hidden{layer}_{j}"
                for layer, width in enumerate(self.hidden_layer_sizes_, start=1)
                for j in range(width)
            ]
        return np.asarray(names, dtype=object)

    def transform(self, X: ArrayLike) -> np.ndarray:
        """The learned representation of each row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components), dtype float64
            With ``representation="hidden"``, the encoder's hidden-layer
            activations, layer after layer; with ``"latent"``, the posterior
            mean. Always finite: a row whose representation would overflow
            float64 raises a ValueError naming it.
        """
        check_is_fitted(self)
        self._output_width()
        X, _ = self._validate(X, reset=False)
        device = resolve_device(self.device)
        return transform_rows(self._training_state, X, self.representation, device)

    @_needs_decoder("Fit with vae_weight > 0 (the default is 1) for an ELBO.")
    def score_samples(self, X: ArrayLike) -> np.ndarray:
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
            Never NaN: a row so far from the training data that the ELBO
            overflows float64 scores -inf.
        """
        check_is_fitted(self)
        X, _ = self._validate(X, reset=False)
        return elbo_rows(self._training_state, X, resolve_device(self.device))

    @_needs_decoder(
        "score is the mean ELBO. To compare or tune such transformers, pass "
        "scoring= to GridSearchCV or cross_validate, e.g. the accuracy of a "
        "Pipeline of this transformer and a LogisticRegression probe, scored on "
        "labels; or fit with vae_weight > 0."
    )
    def score(self, X: ArrayLike, y: None = None) -> float:
        """Mean ELBO of the rows of ``X`` (higher is better), as PCA's and
        GaussianMixture's ``score`` are mean log-likelihoods.

        ``GridSearchCV`` and ``cross_validate`` without ``scoring`` rank by
        it, so they tune the transformer without labels: how well it models
        held-out rows, not how useful its features are downstream (for that,
        pass ``scoring=``, e.g. a probe's accuracy). A candidate with
        ``vae_weight=0`` has no decoder and so no ``score``: the search gives
        it ``error_score`` (NaN by default, ranked last) with a warning that
        carries this method's AttributeError, which says what to do instead;
        ELBOs cannot compare it with the others.

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

    @_needs_decoder(
        "Fit with vae_weight > 0 (the default is 1) to decode, or fit a "
        "regressor from transform's output to X (e.g. sklearn's Ridge) for an "
        "approximate inverse."
    )
    def inverse_transform(self, X: ArrayLike) -> np.ndarray | pd.DataFrame:
        """Decode representations back to the input space.

        Posterior means decode through the decoder. Hidden activations
        (``representation="hidden"``) decode through ``mu``, which is linear
        in the last hidden layer: the last ``hidden_layer_sizes_[-1]`` columns
        go through the mean head, then the decoder (the other layers' columns
        are not read). So ``inverse_transform(transform(X))`` works for both.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Representations, e.g. the output of ``transform``.

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, n_features)
            Decoder means for numeric columns (original units) and the most
            probable category for categorical columns. A DataFrame when the
            input had categorical columns, else a float64 array.
        """
        check_is_fitted(self)
        width = self._output_width()
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != width:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"{width} (n_components, the width of transform's output with "
                f"representation={self.representation!r})."
            )
        state = self._training_state
        numeric, codes = decode_rows(
            state, Z, resolve_device(self.device), self.representation
        )
        has_categorical = state.table_encoder.categorical_mask.any()
        return state.table_encoder.inverse_transform(
            numeric, codes, as_frame=has_categorical
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
