"""The compared methods: a registry of name -> factory of a classifier pipeline.

Every factory takes a :class:`MethodContext` and returns an unfitted
scikit-learn classifier that accepts the raw DataFrame of a
:class:`~skssl.benchmark._data.Dataset`. Representation methods end in the
same linear probe (:func:`make_probe`), so their accuracies compare the
features, not the classifiers.

Adding a method is one line in :data:`METHODS` (here, in this module, so that
parallel worker processes know it too), e.g. a contrastive-loss variant::

    "loss=balanced": ssl_probe(contrastive_loss="balanced"),

Settings can also be given in the method's name, for trying candidates
without editing code: ``ssl[temperature=0.5,self_labeling=0.5]`` and
``ssl+raw[...]`` are the SSL methods with those estimator parameters (a
learning rate too: ``ssl[learning_rate=0.001]``), and
``classifier[supervised_weight=0.5]`` the semi-supervised
:class:`~skssl.ContrastiveVAEClassifier` with its own. This is the only syntax for
settings; names of the retired ``lr=<value>`` form, found in old results
folders, are read as ``ssl[learning_rate=<value>]``
(:func:`upgrade_method_name`).

Semi-supervised methods (:data:`SEMI_SUPERVISED_METHODS`, and
``classifier[...]``) end in an estimator that takes every training row with
the label -1 on the rows whose label it may not see (the label-fraction
protocol, :mod:`~skssl.benchmark._protocol`); :func:`is_semi_supervised`
recognises them. The others are pipelines whose steps before the last use no
labels and whose last step is the supervised one.
"""

import inspect
import json
import re
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

from skssl import ContrastiveVAEClassifier, ContrastiveVAETransformer

# Regularisation strengths the probe chooses from by inner cross-validation.
PROBE_CS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
PROBE_CV = 3
PROBE_MAX_ITER = 2000
# Most frequent categories one-hot encoded per column (the rest share one
# "infrequent" column); the same bound as the SSL transformer's default.
MAX_ONE_HOT_CATEGORIES = 64
# HistGradientBoosting handles at most max_bins=255 categories per feature.
MAX_HGB_CATEGORIES = 255
# The label of a row whose label a semi-supervised method may not see
# (sklearn.semi_supervised's convention; the protocol passes integer labels).
UNLABELED = -1
# Self-training (sklearn's defaults): pseudo-label rows predicted with at
# least this probability, for at most this many rounds.
SELF_TRAINING_THRESHOLD = 0.75
SELF_TRAINING_MAX_ITER = 10
# Label spreading on a k-nearest-neighbour graph: a sparse n x n matrix with
# n_neighbors entries per row (the RBF kernel's graph is dense: n^2 floats).
# Its neighbour search is still quadratic in time, hence a row limit: above
# it the evaluation is recorded as skipped, not run.
LABEL_SPREADING_NEIGHBORS = 7
MAX_LABEL_SPREADING_ROWS = 10_000

# Method names of results folders written before the bracket syntax was the
# only one: "lr=0.001" is "ssl[learning_rate=0.001]".
_LEGACY_LEARNING_RATE_METHOD = re.compile(r"^lr=(?P<value>.+)$")
_CONFIGURED_METHOD = re.compile(
    r"^(?P<base>ssl|ssl\+raw|classifier)\[(?P<settings>.*)\]$"
)


@dataclass(frozen=True)
class MethodContext:
    """What a method factory needs to know about a run.

    Attributes
    ----------
    numeric_columns : list of str
    categorical_columns : list of str
    seed : int
        Seeds every randomised estimator.
    ssl_params : dict
        Estimator parameters given on the command line, applied to every
        SSL-based method (method-specific settings take precedence).
    """

    numeric_columns: list
    categorical_columns: list
    seed: int = 0
    ssl_params: dict = field(default_factory=dict)


def make_raw_encoder(numeric_columns, categorical_columns):
    """Encoding of raw features for linear models, learned on training rows.

    Numeric columns: mean imputation then z-scoring. Categorical columns:
    one-hot encoding of at most :data:`MAX_ONE_HOT_CATEGORIES` levels
    (missing values are a level of their own); categories unseen in training
    encode as all zeros.

    Parameters
    ----------
    numeric_columns, categorical_columns : list of str

    Returns
    -------
    encoder : ColumnTransformer
        Dense output.
    """
    numeric = Pipeline(
        [("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())]
    )
    categorical = OneHotEncoder(
        handle_unknown="ignore",
        max_categories=MAX_ONE_HOT_CATEGORIES,
        sparse_output=False,
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, list(numeric_columns)),
            ("categorical", categorical, list(categorical_columns)),
        ],
        sparse_threshold=0.0,
    )


def make_probe(random_state):
    """The linear probe: logistic regression with C tuned on training rows.

    ``C`` is chosen among :data:`PROBE_CS` by shuffled, stratified 3-fold
    cross-validation (accuracy) on the data passed to ``fit`` only, then the
    model is refitted on all of it.

    Parameters
    ----------
    random_state : int
        Seed of the fold assignment.

    Returns
    -------
    probe : LogisticRegressionCV
    """
    options = {}
    parameters = inspect.signature(LogisticRegressionCV).parameters
    # Pin the L2 penalty and new-style attributes where scikit-learn >= 1.8
    # deprecates the defaults, without breaking older versions.
    if "l1_ratios" in parameters and parameters["l1_ratios"].default == "warn":
        options["l1_ratios"] = (0.0,)
    if "use_legacy_attributes" in parameters:
        options["use_legacy_attributes"] = False
    return LogisticRegressionCV(
        Cs=list(PROBE_CS),
        # Shuffled folds: many OpenML tables are stored sorted (balance_scale
        # is its full factorial design in order), and contiguous folds would
        # choose C by extrapolation to unseen regions instead of by fit.
        cv=StratifiedKFold(PROBE_CV, shuffle=True, random_state=random_state),
        scoring="accuracy",
        max_iter=PROBE_MAX_ITER,
        **options,
    )


def scaled_probe_steps(random_state):
    """Pipeline steps of the probe on standardised features: ``scale``, then
    :func:`make_probe` as ``probe``."""
    return [("scale", StandardScaler()), ("probe", make_probe(random_state))]


def probe_accuracy(Z_fit, y_fit, Z_held_out, y_held_out, seed):
    """The probe on standardised features (:func:`scaled_probe_steps`) fitted
    on ``Z_fit``, and its accuracy on the held-out rows."""
    probe = Pipeline(scaled_probe_steps(seed))
    return float(probe.fit(Z_fit, y_fit).score(Z_held_out, y_held_out))


class AtMostPCA(TransformerMixin, BaseEstimator):
    """PCA to ``n_components``, or fewer when the data have fewer dimensions.

    Parameters
    ----------
    n_components : int, default=32
    random_state : int or None, default=None

    Attributes
    ----------
    pca_ : PCA
        The fitted PCA with ``min(n_components, n_samples, n_features)``
        components.
    """

    def __init__(self, n_components=32, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the PCA.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : AtMostPCA
        """
        n_components = min(self.n_components, *np.shape(X))
        self.pca_ = PCA(n_components, random_state=self.random_state).fit(X)
        return self

    def transform(self, X):
        """Project ``X`` on the principal components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
        """
        return self.pca_.transform(X)


def ssl_transformer(context, *, estimator_class=ContrastiveVAETransformer, **overrides):
    """A :class:`ContrastiveVAETransformer`: defaults, CLI params, overrides.

    Parameters
    ----------
    context : MethodContext
    estimator_class : type, default=ContrastiveVAETransformer
        The transformer or a subclass of it (the budget study's records its
        epochs).
    **overrides
        Method-specific parameters; they win over ``context.ssl_params``.

    Returns
    -------
    transformer : estimator_class
        Seeded with ``context.seed``.
    """
    params = {**context.ssl_params, **overrides, "random_state": context.seed}
    return estimator_class(**params)


def find_ssl_transformer(estimator):
    """The first skssl model inside ``estimator``.

    A :class:`ContrastiveVAETransformer`, or a
    :class:`ContrastiveVAEClassifier` (whose epochs, fit time and loss curves
    are recorded the same way). Looks through pipelines, feature unions and
    column transformers.

    Parameters
    ----------
    estimator : estimator

    Returns
    -------
    model : ContrastiveVAETransformer, ContrastiveVAEClassifier or None
    """
    if isinstance(estimator, (ContrastiveVAETransformer, ContrastiveVAEClassifier)):
        return estimator
    if isinstance(estimator, Pipeline):
        children = [step for _, step in estimator.steps]
    elif isinstance(estimator, FeatureUnion):
        children = [part for _, part in estimator.transformer_list]
    elif isinstance(estimator, ColumnTransformer):
        fitted = getattr(estimator, "transformers_", estimator.transformers)
        children = [part for _, part, _ in fitted]
    else:
        return None
    for child in children:
        found = find_ssl_transformer(child)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------- factories
def raw_probe(context):
    """Probe on the encoded raw features."""
    return Pipeline(
        [
            (
                "encode",
                make_raw_encoder(context.numeric_columns, context.categorical_columns),
            ),
            ("probe", make_probe(context.seed)),
        ]
    )


def ssl_output_width(transformer):
    """Columns ``transformer.transform`` returns, known before fitting."""
    return transformer.n_components


def pca_probe(context):
    """Probe on PCA of the encoded raw features, as wide as the SSL features."""
    n_components = ssl_output_width(ssl_transformer(context))
    return Pipeline(
        [
            (
                "encode",
                make_raw_encoder(context.numeric_columns, context.categorical_columns),
            ),
            ("pca", AtMostPCA(n_components, random_state=context.seed)),
            *scaled_probe_steps(context.seed),
        ]
    )


def ssl_probe(**overrides):
    """Factory of "SSL features -> standardisation -> probe".

    Parameters
    ----------
    **overrides
        :class:`ContrastiveVAETransformer` parameters of this method.

    Returns
    -------
    factory : callable
        ``factory(context)`` returns the pipeline.
    """

    def build(context):
        return Pipeline(
            [
                ("ssl", ssl_transformer(context, **overrides)),
                *scaled_probe_steps(context.seed),
            ]
        )

    return build


def ssl_plus_raw_probe(**overrides):
    """Factory of "[SSL features, encoded raw features] -> probe".

    Parameters
    ----------
    **overrides
        :class:`ContrastiveVAETransformer` parameters of this method.

    Returns
    -------
    factory : callable
    """

    def build(context):
        learned = Pipeline(
            [
                ("ssl", ssl_transformer(context, **overrides)),
                ("scale", StandardScaler()),
            ]
        )
        raw = make_raw_encoder(context.numeric_columns, context.categorical_columns)
        return Pipeline(
            [
                ("features", FeatureUnion([("ssl", learned), ("raw", raw)])),
                ("probe", make_probe(context.seed)),
            ]
        )

    return build


def gradient_boosting(context):
    """HistGradientBoostingClassifier with native categorical splits.

    The non-linear, supervised reference. Categorical columns are ordinal
    encoded (unknown and missing categories become NaN, which the trees
    route as missing values).
    """
    categorical = list(context.categorical_columns)
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    max_categories=MAX_HGB_CATEGORIES,
                ),
                categorical,
            ),
            ("numeric", "passthrough", list(context.numeric_columns)),
        ],
        sparse_threshold=0.0,
    )
    is_categorical = [True] * len(categorical) + [False] * len(context.numeric_columns)
    return Pipeline(
        [
            ("encode", encode),
            (
                "hgb",
                HistGradientBoostingClassifier(
                    categorical_features=is_categorical if categorical else None,
                    random_state=context.seed,
                ),
            ),
        ]
    )


class SkipEvaluation(Exception):  # noqa: N818 - an outcome, not an error
    """Raised by a method's ``fit`` that does not apply to these data.

    The protocol records the evaluation as skipped, with this message as
    the reason, instead of as a failure to retry.
    """


class SelfTrainingProbe(ClassifierMixin, BaseEstimator):
    """Self-training of the linear probe on the rows labeled -1.

    ``C`` is chosen as the probe chooses it (:func:`make_probe`: 3-fold
    cross-validation on the labeled rows only); a logistic regression with
    that fixed ``C`` is then self-trained by
    :class:`~sklearn.semi_supervised.SelfTrainingClassifier` on all rows.
    Fixing ``C`` keeps the pseudo-labels from choosing the regularisation
    that fits them best, and costs one fit per round instead of a
    cross-validation. With every row labeled this is the probe itself.

    Parameters
    ----------
    threshold : float, default=0.75
    max_iter : int, default=10
        Of :class:`~sklearn.semi_supervised.SelfTrainingClassifier`.
    random_state : int or None, default=None
        Seed of the probe's folds.

    Attributes
    ----------
    C_ : float
        The chosen regularisation strength.
    estimator_ : estimator
        The fitted self-training classifier (or the probe).
    n_pseudo_labeled_ : int
        Rows labeled by self-training.
    classes_ : ndarray
    """

    def __init__(
        self,
        threshold=SELF_TRAINING_THRESHOLD,
        max_iter=SELF_TRAINING_MAX_ITER,
        random_state=None,
    ):
        self.threshold = threshold
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y):
        """Choose ``C`` on the labeled rows, then self-train on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of int of shape (n_samples,)
            -1 marks an unlabeled row.

        Returns
        -------
        self : SelfTrainingProbe
        """
        X, y = np.asarray(X), np.asarray(y)
        labeled = y != UNLABELED
        probe = make_probe(self.random_state).fit(X[labeled], y[labeled])
        self.C_ = float(np.ravel(probe.C_)[0])
        if labeled.all():
            self.estimator_ = probe
            self.n_pseudo_labeled_ = 0
        else:
            base = LogisticRegression(C=self.C_, max_iter=PROBE_MAX_ITER)
            self.estimator_ = SelfTrainingClassifier(
                base, threshold=self.threshold, max_iter=self.max_iter
            ).fit(X, y)
            self.n_pseudo_labeled_ = int((self.estimator_.labeled_iter_ > 0).sum())
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        """Predicted classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self.estimator_.predict(np.asarray(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self.estimator_.predict_proba(np.asarray(X))


class RowLimitedLabelSpreading(LabelSpreading):
    """:class:`~sklearn.semi_supervised.LabelSpreading` that skips large tables.

    ``fit`` raises :class:`SkipEvaluation` above
    :data:`MAX_LABEL_SPREADING_ROWS` rows (read when fitting, so that tests
    can lower it).
    """

    def fit(self, X, y):
        """Spread the labels, or skip a table with too many rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of int of shape (n_samples,)
            -1 marks an unlabeled row.

        Returns
        -------
        self : RowLimitedLabelSpreading

        Raises
        ------
        SkipEvaluation
            With more than :data:`MAX_LABEL_SPREADING_ROWS` rows.
        """
        if len(X) > MAX_LABEL_SPREADING_ROWS:
            raise SkipEvaluation(
                f"skipped: n too large ({len(X)} training rows > "
                f"{MAX_LABEL_SPREADING_ROWS}, label spreading's row limit)"
            )
        return super().fit(X, y)


def self_training(context):
    """Self-training of the raw-feature probe (:class:`SelfTrainingProbe`)."""
    return Pipeline(
        [
            (
                "encode",
                make_raw_encoder(context.numeric_columns, context.categorical_columns),
            ),
            ("probe", SelfTrainingProbe(random_state=context.seed)),
        ]
    )


def label_spreading(context):
    """Label spreading on a kNN graph of the encoded raw features."""
    return Pipeline(
        [
            (
                "encode",
                make_raw_encoder(context.numeric_columns, context.categorical_columns),
            ),
            (
                "spread",
                RowLimitedLabelSpreading(
                    kernel="knn", n_neighbors=LABEL_SPREADING_NEIGHBORS
                ),
            ),
        ]
    )


def vae_classifier(**overrides):
    """Factory of the semi-supervised :class:`ContrastiveVAEClassifier`.

    It takes the raw table. The CLI's SSL parameters apply where the
    classifier has them (not ``representation`` or ``partial_fit_epochs``);
    ``overrides`` win over them.

    Parameters
    ----------
    **overrides
        :class:`ContrastiveVAEClassifier` parameters of this method.

    Returns
    -------
    factory : callable
    """

    def build(context):
        names = ContrastiveVAEClassifier().get_params()
        shared = {k: v for k, v in context.ssl_params.items() if k in names}
        params = {**shared, **overrides, "random_state": context.seed}
        return ContrastiveVAEClassifier(**params)

    return build


def is_semi_supervised(estimator):
    """Whether ``estimator`` fits on all rows, -1 marking the unlabeled ones.

    Otherwise its last step is the supervised part, fitted on labeled rows
    only (see :mod:`~skssl.benchmark._protocol`).
    """
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return isinstance(
        final, (SelfTrainingProbe, LabelSpreading, ContrastiveVAEClassifier)
    )


#: Method name -> factory(MethodContext) -> unfitted classifier.
METHODS = {
    "raw": raw_probe,
    "pca": pca_probe,
    "ssl": ssl_probe(),
    "ssl+raw": ssl_plus_raw_probe(),
    "hgb": gradient_boosting,
    # The paper's ablations: switch one part of the model off.
    "no-contrastive": ssl_probe(contrastive_weight=0.0),
    "no-vae": ssl_probe(vae_weight=0.0),
    "no-augmentation": ssl_probe(corruption_rate=0.0),
    # The paper's optimizer study (AdamW is the default, i.e. "ssl").
    "adam": ssl_probe(optimizer="adam"),
    "sgd": ssl_probe(optimizer="sgd"),
    # Contrastive objectives from the literature (see docs/contrastive_objectives.md).
    "loss=balanced": ssl_probe(contrastive_loss="balanced", repulsion_weight=0.8),
    "loss=renyi": ssl_probe(contrastive_loss="renyi", renyi_alpha=2.0),
    "self-labeling": ssl_probe(self_labeling=0.5),
    "momentum-mixup": ssl_probe(momentum_mixup=1.0),
    # Semi-supervised: every training row, labels on some (--label-fraction).
    "self-training": self_training,
    "label-spreading": label_spreading,
    "classifier": vae_classifier(),
}

#: Methods that fit on unlabeled rows with their labels hidden; run by
#: default only under the label-fraction protocol.
SEMI_SUPERVISED_METHODS = ("self-training", "label-spreading", "classifier")
#: The methods run by default under ``--label-fraction``.
LABEL_FRACTION_METHODS = (
    "raw",
    "hgb",
    "self-training",
    "label-spreading",
    "ssl",
    "ssl+raw",
    "classifier",
)

ABLATION_METHODS = ("ssl", "no-contrastive", "no-vae", "no-augmentation")
OPTIMIZER_METHODS = ("ssl", "adam", "sgd")
VARIANT_METHODS = (
    "ssl",
    "loss=balanced",
    "loss=renyi",
    "self-labeling",
    "momentum-mixup",
)


def learning_rate_method(learning_rate):
    """Name of the method that trains the SSL model at ``learning_rate``.

    >>> learning_rate_method(0.001)
    'ssl[learning_rate=0.001]'
    """
    return configured_method_name("ssl", {"learning_rate": float(learning_rate)})


def parse_learning_rate(method):
    """The learning rate of ``ssl[learning_rate=<value>]``, else None.

    Only the SSL model with its learning rate as the one setting counts:
    methods that change other settings too compare more than the rate.

    >>> parse_learning_rate("ssl[learning_rate=0.005]"), parse_learning_rate("ssl")
    (0.005, None)
    >>> print(parse_learning_rate("ssl[learning_rate=1e-12,max_epochs=1]"))
    None
    """
    try:
        base, settings = parse_configured_method(method)
    except ValueError:
        return None
    value = settings.get("learning_rate")
    if base != "ssl" or set(settings) != {"learning_rate"}:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def upgrade_method_name(name):
    """The current name of a method stored under a retired name.

    Results folders written before the bracket syntax was the only one name
    learning-rate methods ``lr=<value>``; they are read as
    ``ssl[learning_rate=<value>]``, so that old rows are summarised, plotted
    and resumed under the current name. Other names are returned unchanged.

    >>> upgrade_method_name("lr=1e-3"), upgrade_method_name("ssl")
    ('ssl[learning_rate=0.001]', 'ssl')
    """
    match = _LEGACY_LEARNING_RATE_METHOD.match(str(name))
    if match is None:
        return name
    try:
        return learning_rate_method(float(match["value"]))
    except ValueError:
        return name


def _split_top_level(text, separator=","):
    """Split ``text`` at separators outside brackets: "a=[1,2],b=3" -> 2 parts."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += char in "[{("
        depth -= char in "]})"
        if char == separator and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    return parts


def _format_setting(value):
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def parse_configured_method(name):
    """Base method and estimator settings of ``ssl[...]``, ``ssl+raw[...]``
    or ``classifier[...]``.

    Values are read as JSON (numbers, ``true``, ``null``, lists), anything
    else as a string. The names are checked here against the
    ``get_params()`` of :class:`ContrastiveVAETransformer` (of
    :class:`ContrastiveVAEClassifier` for ``classifier[...]``); the values
    are checked by the estimator's ``fit``, where a bad one (say
    ``temperature=-1``) fails each evaluation with the estimator's message.

    Parameters
    ----------
    name : str

    Returns
    -------
    base : str or None
        ``"ssl"``, ``"ssl+raw"`` or ``"classifier"``; None when ``name`` has
        no settings.
    settings : dict

    Raises
    ------
    ValueError
        For a malformed setting or an unknown parameter.

    Examples
    --------
    >>> parse_configured_method("ssl[temperature=0.5,contrastive_loss=renyi]")
    ('ssl', {'temperature': 0.5, 'contrastive_loss': 'renyi'})
    >>> parse_configured_method("ssl")
    (None, {})
    """
    match = _CONFIGURED_METHOD.match(name)
    if match is None:
        return None, {}
    settings = {}
    for part in _split_top_level(match["settings"]):
        key, equals, text = part.partition("=")
        key, text = key.strip(), text.strip()
        if not equals or not key or not text:
            raise ValueError(
                f"Method {name!r}: settings must read key=value, got {part!r}."
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        settings[key] = tuple(value) if isinstance(value, list) else value
    estimator_class = (
        ContrastiveVAEClassifier
        if match["base"] == "classifier"
        else ContrastiveVAETransformer
    )
    try:
        check_ssl_param_names(settings, estimator_class)
    except ValueError as exc:
        raise ValueError(f"Method {name!r}: {exc}") from exc
    return match["base"], settings


def check_ssl_param_names(params, estimator_class=ContrastiveVAETransformer):
    """Reject names that are not settable parameters of ``estimator_class``.

    Parameters
    ----------
    params : dict
        Estimator parameters given by a user (``--ssl-params`` or a method's
        settings); ``random_state`` is not one of them, the seed sets it.
    estimator_class : class, default=ContrastiveVAETransformer

    Raises
    ------
    ValueError
        Naming the offending parameters.
    """
    if "random_state" in params:
        raise ValueError("random_state is set by the seed (--seeds).")
    unknown = sorted(set(params) - set(estimator_class().get_params()))
    if unknown:
        raise ValueError(
            f"unknown {estimator_class.__name__} parameter(s) {', '.join(unknown)}."
        )


def configured_method_name(base, settings):
    """Canonical name of ``base`` with ``settings`` (keys sorted).

    >>> configured_method_name("ssl", {"temperature": 0.5, "self_labeling": 0.5})
    'ssl[self_labeling=0.5,temperature=0.5]'
    """
    text = ",".join(
        f"{key}={_format_setting(settings[key])}" for key in sorted(settings)
    )
    return f"{base}[{text}]"


def canonical_method_name(name):
    """One name per method: settings sorted, values as JSON writes them.

    >>> canonical_method_name("ssl[temperature=0.50, kl_weight=1]")
    'ssl[kl_weight=1,temperature=0.5]'
    >>> canonical_method_name("ssl[learning_rate=1e-3]")
    'ssl[learning_rate=0.001]'
    """
    base, settings = parse_configured_method(name)
    if base is not None:
        return configured_method_name(base, settings)
    return name


def get_method(name):
    """The factory of method ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`METHODS`, or ``ssl[key=value,...]`` /
        ``ssl+raw[key=value,...]`` / ``classifier[key=value,...]`` for those
        methods with the given estimator parameters (e.g.
        ``ssl[learning_rate=0.001]``).

    Returns
    -------
    factory : callable
    """
    if name in METHODS:
        return METHODS[name]
    base, settings = parse_configured_method(name)
    if base == "ssl":
        return ssl_probe(**settings)
    if base == "ssl+raw":
        return ssl_plus_raw_probe(**settings)
    if base == "classifier":
        return vae_classifier(**settings)
    hint = ""
    if _LEGACY_LEARNING_RATE_METHOD.match(name):
        hint = " (a learning rate is set as ssl[learning_rate=<value>])"
    raise ValueError(
        f"Unknown method {name!r}{hint}. Known: {', '.join(METHODS)}, "
        "ssl[key=value,...], ssl+raw[key=value,...] or "
        "classifier[key=value,...]."
    )
