"""The scikit-learn face of the semi-supervised :class:`ContrastiveVAEClassifier`."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import BaseContrastiveVAE
from ._boosting import MAX_EXPERTS_WEIGHT
from ._devices import resolve_device
from ._inference import class_probabilities
from ._input import validate_sample_weight
from ._training_data import UNLABELED


def unlabeled_mask(y, unlabeled_label):
    """Which entries of the label vector ``y`` mark unlabeled rows.

    An entry is unlabeled when it equals ``unlabeled_label``, or, for string
    or object labels, when its text does (``-1`` matches ``"-1"``). None
    marks no row.
    """
    y = np.asarray(y)
    if unlabeled_label is None:
        return np.zeros(len(y), dtype=bool)
    if y.dtype.kind in "biuf":
        if not isinstance(unlabeled_label, Real):
            return np.zeros(len(y), dtype=bool)
        return y == unlabeled_label
    marker = str(unlabeled_label)
    return np.array(
        [label == unlabeled_label or str(label) == marker for label in y.tolist()],
        dtype=bool,
    )


class ContrastiveVAEClassifier(ClassifierMixin, BaseContrastiveVAE):
    """Semi-supervised classifier: a self-supervised encoder trained on every
    row, and a classification head fitted on the labeled ones.

    ``fit`` runs three steps over the same training session as
    :class:`~skssl.ContrastiveVAETransformer`:

    1. **Pre-training** on all rows, labeled or not, with the transformer's
       objective ``contrastive_weight * L_contrastive + vae_weight * L_VAE``
       (InfoNCE between two SCARF views, arXiv 2106.15147, and the VAE's
       negative ELBO, arXiv 2504.04032).
    2. **The head**, linear in the raw columns (numeric values, missing
       flags, one-hot categories) and in every hidden activation: the mixed
       logits of two logistic regressions fitted to the labeled rows, on the
       raw columns with and without the hidden activations
       (``raw_regression_weight``), their L2 strengths chosen by
       cross-validation. A logistic regression on the raw columns is one
       of the functions it can represent, so the learned features add to the
       input rather than replace it. Beside the head, gradient-boosted trees
       fitted to the labeled rows' columns, whose probabilities are blended
       with the head's (``boosting_weight``; arXiv 2106.03253), and labels
       spread over a nearest-neighbour graph of the labeled and unlabeled
       rows (``graph_weight``; Zhou et al. 2004), the blend's weights and
       the head's mix chosen by the out-of-fold log-loss of the labeled
       rows.
    3. **Fine-tuning** (``fine_tune_epochs``, off by default): encoder and
       head trained together on ``... + supervised_weight * L_supervised``,
       the cross-entropy of the labeled rows plus ``consistency_weight``
       times a FixMatch consistency term (arXiv 2001.07685: an unlabeled
       row predicted at least ``confidence_threshold`` confidently teaches
       that class to its two views), the self-supervised terms kept on every
       row; SCARF's fine-tuning of a pre-trained encoder.

    Labels follow :mod:`sklearn.semi_supervised`: rows whose label is
    ``unlabeled_label`` (-1; the string ``"-1"`` for string labels) are
    unlabeled. They shape the representation and never appear in
    ``classes_``. With every row labeled this is a supervised classifier.

    Parameters
    ----------
    n_components : int, default=512
        Width of the hidden activations the head reads: the encoder's
        hidden-layer widths, summed (the transformer's ``n_components`` with
        ``representation="hidden"``).
    latent_dim : int or None, default=None
        Width of the posterior mean ``mu``; None: ``n_components // 4``.
    hidden_layer_sizes : tuple of int or None, default=None
        Widths of the encoder's hidden layers, summing to ``n_components``;
        the decoder mirrors them. None: ``n_components`` split over two
        layers, as for the transformer.
    projection_dim : int, default=64
        Output width of the contrastive projection head.
    temperature : float, default=0.2
        Temperature of the InfoNCE loss.
    contrastive_weight : float, default=1.0
        Weight of the contrastive loss; 0 switches that branch off.
    contrastive_loss : {"infonce", "balanced", "renyi"}, default="infonce"
        The contrastive objective, as for the transformer.
    attraction_weight, repulsion_weight : float, default=1.0
        Weights of ``contrastive_loss="balanced"``.
    renyi_alpha : float, default=2.0
        Order of ``contrastive_loss="renyi"``.
    self_labeling : float in [0, 1], default=0.0
        Self-labelling refinement of InfoNCE (arXiv 2106.14749).
    momentum_mixup : float, default=0.0
        Weight of the momentum-mixup loss (arXiv 2106.14749).
    vae_weight : float, default=1.0
        Weight of the VAE loss; 0 switches the decoder off.
    kl_weight : float, default=0.1
        beta on the KL term of the training ELBO.
    supervised_weight : float, default=1.0
        Weight of the supervised term (cross-entropy of the labeled rows plus
        the consistency term).
    consistency_weight : float, default=1.0
        Weight, inside the supervised term, of the consistency of unlabeled
        rows' views with their confident predictions. 0 switches it off.
    confidence_threshold : float in (0, 1], default=0.95
        Smallest predicted probability for which an unlabeled row's
        prediction is taken as its views' target.
    unlabeled_label : int, str or None, default=-1
        The label that marks a row as unlabeled (its text too, for string
        labels). None: every row is labeled, for data whose classes include
        -1 (e.g. labels -1 and 1).
    fine_tune_epochs : int, default=0
        Epochs of joint training of encoder and head (cross-entropy of the
        labeled rows, the consistency term, and the self-supervised terms on
        every row) after the head's logistic-regression fit. 0: none; the
        classifier is the self-supervised encoder with that linear head
        (docs/semi_supervised.md compares the two).
    boosting_weight : "auto" or float in [0, 1], default="auto"
        Weight ``w`` of a gradient-boosting expert (a
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier` on the
        labeled rows' columns) in the prediction ``p ~ p_head^(1 - w) *
        p_trees^w``, after arXiv 2106.03253's ensembles of deep models and
        boosted trees. "auto": the ``w`` of 0, 0.125, ..., 0.75 whose blend
        of out-of-fold predictions of the labeled rows has the lowest
        log-loss (0, and no trees, when a class has a single labeled row).
        0: the head alone.
    graph_weight : "auto" or float in [0, 0.75], default="auto"
        Weight ``v`` of a graph expert: labels spread over a
        7-nearest-neighbour graph of the labeled and unlabeled rows' raw
        columns (Zhou et al. 2004, as
        :class:`~sklearn.semi_supervised.LabelSpreading`), in the prediction
        ``p ~ p_head^(1 - w - v) * p_trees^w * p_graph^v``. "auto": the ``v``
        of 0, 0.125, ..., 0.75 (``w + v`` at most 0.75) chosen with ``w`` by
        the same out-of-fold log-loss. 0: no graph. The graph holds at most
        20,000 rows (every labeled row, then a draw of unlabeled ones), and
        is left out with more labeled rows than that.
    raw_regression_weight : "auto" or float in [0, 1], default="auto"
        The head is two logistic regressions' logits mixed: one on the raw
        columns with the hidden activations, one on the raw columns alone,
        which has this weight (0: the learned features' regression alone; 1:
        a logistic regression on the raw columns; 0.5: their average).
        "auto": the weight of 0, 0.25, ..., 1 that, together with the
        trees' (``boosting_weight``), gives the labeled rows' out-of-fold
        predictions the lowest log-loss (0.5 when a class has a single
        labeled row).
    corruption_rate : float, default=0.3
        Fraction of each row's columns replaced by SCARF corruption.
    noise_scale : float, default=0.1
        Gaussian noise on numeric columns of the views, in standard units.
    categorical_features : "auto", None or array-like, default="auto"
        Which columns are categorical, as for the transformer.
    max_categories : int, default=64
        Most frequent categories kept per categorical column.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
    learning_rate : float, default=0.002
    learning_rate_schedule : {"constant", "cosine", "warmup_cosine", \
"one_cycle"}, default="cosine"
        How the rate changes, step by step, over the pre-training's
        ``max_epochs_`` epochs (and anew over the ``fine_tune_epochs``), as
        for the transformer. The schedule spans the whole budget even when
        the fit stops early.
    weight_decay : float, default=1e-4
    batch_size : int, default=256
        Rows per minibatch, labeled and unlabeled alike.
    max_epochs : int or "auto", default="auto"
        Most passes over the rows; "auto" as for the transformer.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labeled rows (stratified; the
        rows still train the self-supervised terms, without their labels),
        stop when their cross-entropy stops improving and restore the best
        weights. Otherwise stop when the training loss stops improving.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    device : str or torch.device, default="auto"
        "auto" trains on CUDA when available, else on the CPU; other devices
        as for the transformer. The fitted model is kept on the CPU.
    mixed_precision : bool, default=False
        Train the networks' matrix products in bfloat16.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, minibatches, augmentations and the validation
        split. Global RNGs are never used or changed.
    verbose : int, default=0
        Print the losses after every epoch, as for the transformer.
    monitor_representation : bool, default=False
        Record alignment, uniformity and effective rank after every epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (never the unlabeled marker).
    model_ : torch.nn.Module
        The trained networks (on the CPU).
    hidden_layer_sizes_ : tuple of int
        The encoder's hidden-layer widths (``hidden_layer_sizes`` resolved).
    latent_dim_ : int
        The width of ``mu`` (``latent_dim`` resolved).
    table_encoder_ : object
        The learned column encoding.
    loss_curve_ : list of float
        Total training loss per epoch.
    contrastive_loss_curve_, reconstruction_loss_curve_, kl_loss_curve_, \
supervised_loss_curve_ : list of float
        The loss terms per epoch.
    validation_loss_curve_ : list of float
        Cross-entropy of the held-out labeled rows per epoch (empty without
        early stopping).
    best_loss_ : float
        Best monitored (validation or training) loss.
    n_iter_ : int
        Epochs run.
    max_epochs_ : int
        The epoch budget used.
    fit_time_ : float
        Seconds spent in the training loop.
    device_ : str
        The device training ran on.
    effective_rank_ : float
        Effective rank of the final posterior means (see the transformer).
    boosting_weight_ : float
        The weight of the trees in the predictions (``boosting_weight``
        resolved; 0 without trees).
    graph_weight_ : float
        The weight of the label graph in the predictions (``graph_weight``
        resolved; 0 without the graph).
    raw_regression_weight_ : float
        The raw columns' regression's weight in the head
        (``raw_regression_weight`` resolved).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined only when X has string column names.

    See Also
    --------
    ContrastiveVAETransformer : The self-supervised representation alone.
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training around any
        classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_moons
    >>> from skssl import ContrastiveVAEClassifier
    >>> X, y = make_moons(300, noise=0.1, random_state=0)
    >>> y_partial = np.where(np.arange(300) < 20, y, -1)  # 20 labels, 280 not
    >>> clf = ContrastiveVAEClassifier(
    ...     n_components=64, max_epochs=20, random_state=0
    ... ).fit(X, y_partial)
    >>> clf.classes_.tolist()
    [0, 1]
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseContrastiveVAE._parameter_constraints,
        "supervised_weight": [Interval(Real, 0, None, closed="neither")],
        "consistency_weight": [Interval(Real, 0, None, closed="left")],
        "confidence_threshold": [Interval(Real, 0, 1, closed="right")],
        "unlabeled_label": [Real, str, None],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left")],
        "boosting_weight": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "graph_weight": [
            StrOptions({"auto"}),
            Interval(Real, 0, MAX_EXPERTS_WEIGHT, closed="both"),
        ],
        "raw_regression_weight": [
            StrOptions({"auto"}),
            Interval(Real, 0, 1, closed="both"),
        ],
    }

    def __init__(
        self,
        n_components=512,
        *,
        latent_dim=None,
        hidden_layer_sizes=None,
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
        supervised_weight=1.0,
        consistency_weight=1.0,
        confidence_threshold=0.95,
        unlabeled_label=-1,
        fine_tune_epochs=0,
        boosting_weight="auto",
        graph_weight="auto",
        raw_regression_weight="auto",
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
    ):
        self.n_components = n_components
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
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
        self.supervised_weight = supervised_weight
        self.consistency_weight = consistency_weight
        self.confidence_threshold = confidence_threshold
        self.unlabeled_label = unlabeled_label
        self.fine_tune_epochs = fine_tune_epochs
        self.boosting_weight = boosting_weight
        self.graph_weight = graph_weight
        self.raw_regression_weight = raw_regression_weight
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

    def _encode_labels(self, y, n_samples):
        """Class indices of ``y`` (``UNLABELED`` for unlabeled rows); sets
        ``classes_``."""
        y = column_or_1d(y, warn=True)
        if len(y) != n_samples:
            raise ValueError(
                f"X has {n_samples} rows but y has {len(y)} labels; give one "
                "label per row (-1 for unlabeled rows)."
            )
        unlabeled = unlabeled_mask(y, self.unlabeled_label)
        labeled = y[~unlabeled]
        if len(labeled) == 0:
            raise ValueError(
                "y has no labeled row: every label is the unlabeled marker "
                f"unlabeled_label={self.unlabeled_label!r}. Label some rows, or "
                "use ContrastiveVAETransformer without labels."
            )
        check_classification_targets(labeled)
        self.classes_, codes = np.unique(labeled, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "The labeled rows hold a single class "
                f"({self.classes_[0]!r}); a classifier needs at least 2 classes."
            )
        labels = np.full(n_samples, UNLABELED, dtype=np.int64)
        labels[~unlabeled] = codes
        return labels

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> ContrastiveVAEClassifier:
        """Train on every row of ``X`` and on the labels of the labeled ones.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training rows, labeled and unlabeled. NaN marks missing values.
        y : array-like of shape (n_samples,)
            Class labels; ``unlabeled_label`` (-1, or ``"-1"`` for string
            labels) marks an unlabeled row.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows: in the self-supervised loss as
            for :meth:`ContrastiveVAETransformer.fit`, in the head's logistic
            regression (labeled rows of weight 0 take no part in it) and in
            fine-tuning's supervised term (weighted means over the labeled
            rows). Not supported with ``contrastive_loss="renyi"``.

        Returns
        -------
        self : object
            Fitted classifier.
        """
        session = self._session()
        X, mask = self._validate(X, reset=True)
        labels = self._encode_labels(y, X.shape[0])
        sample_weight = validate_sample_weight(sample_weight, X)
        if sample_weight is not None:
            weighted = np.unique(labels[(labels != UNLABELED) & (sample_weight > 0)])
            if len(weighted) < 2:
                raise ValueError(
                    "The labeled rows of positive sample_weight hold "
                    f"{len(weighted)} class(es); a classifier needs at least 2 "
                    "classes with a positive weight."
                )
        state = session.fit(
            X,
            mask,
            labels=labels,
            n_classes=len(self.classes_),
            sample_weight=sample_weight,
        )
        self._publish(state)
        self.boosting_weight_ = 0.0 if state.boosting is None else state.boosting.weight
        self.graph_weight_ = (
            0.0 if state.boosting is None else state.boosting.graph_weight
        )
        self.raw_regression_weight_ = state.raw_regression_weight
        return self

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities of each row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        X, _ = self._validate(X, reset=False)
        device = resolve_device(self.device)
        return class_probabilities(self._training_state, X, device)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> float:
        """Accuracy on the labeled rows of ``(X, y)``; unlabeled rows are ignored.

        In a cross-validation split of semi-supervised data, rows labeled -1
        are neither right nor wrong, so they do not count: this is the score
        ``GridSearchCV`` uses by default. (A string scorer such as
        ``scoring="accuracy"`` would count them as errors.)

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            NaN when no row of ``y`` is labeled.
        """
        y = column_or_1d(y)
        labeled = ~unlabeled_mask(y, self.unlabeled_label)
        if not labeled.any():
            return float("nan")
        rows = np.flatnonzero(labeled)
        X_labeled = X.iloc[rows] if hasattr(X, "iloc") else _take_rows(X, rows)
        weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return super().score(X_labeled, y[rows], sample_weight=weight)


def _take_rows(X, rows):
    if hasattr(X, "shape"):
        return X[rows]
    return [X[i] for i in rows]
