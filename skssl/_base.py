"""What the estimators share: parameter constraints, input, the fitted state."""

import functools
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ._input import validate_input
from ._objective import CONTRASTIVE_VARIANTS
from ._optimizers import LEARNING_RATE_SCHEDULES
from .training import TrainingSession, curve_attribute


class BaseContrastiveVAE(BaseEstimator):
    """Base class of :class:`~skssl.ContrastiveVAETransformer` and
    :class:`~skssl.ContrastiveVAEClassifier`.

    Holds the constraints of the parameters both have, the input validation
    both use, and :meth:`_publish`, which sets the fitted attributes from
    the :class:`~skssl.training.TrainingState` training returns.

    A ``fit`` or ``partial_fit`` that does not return (an error, a
    ``KeyboardInterrupt``, the device out of memory) leaves the estimator as
    it was before the call: unfitted, or with its previous fitted state.
    Subclasses' ``fit`` and ``partial_fit`` are wrapped to that end
    (:func:`_unchanged_unless_returned`).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("fit", "partial_fit"):
            if name in cls.__dict__:
                setattr(cls, name, _unchanged_unless_returned(cls.__dict__[name]))

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "projection_dim": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "contrastive_weight": [Interval(Real, 0, None, closed="left")],
        "contrastive_loss": [StrOptions(set(CONTRASTIVE_VARIANTS))],
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
        "learning_rate_schedule": [StrOptions(set(LEARNING_RATE_SCHEDULES))],
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
    }

    def _session(self):
        return TrainingSession.from_estimator(self)

    def _validate(self, X, reset):
        mask = None if reset else self.table_encoder_.categorical_mask
        return validate_input(self, X, reset=reset, categorical_mask=mask)

    def _publish(self, state):
        """Set the fitted attributes from the training ``state``."""
        self._training_state = state
        self.table_encoder_ = state.table_encoder
        self.model_ = state.model
        self.hidden_layer_sizes_ = tuple(state.model.encoder.hidden_layer_sizes)
        self.latent_dim_ = state.model.encoder.latent_dim
        for name, curve in state.curves.items():
            setattr(self, curve_attribute(name), curve)
        self.best_loss_ = state.best_loss
        self.n_iter_ = state.n_epochs
        self.fit_time_ = state.fit_time
        self.device_ = state.device
        self.effective_rank_ = state.effective_rank
        optional = {
            "max_epochs_": state.max_epochs,
            "representation_history_": state.representation_history,
        }
        for name, value in optional.items():
            if value is None:
                self.__dict__.pop(name, None)  # not left over from an earlier fit
            else:
                setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        # The networks are pickled once, as NumPy arrays, in the training
        # state (skssl._persistence); model_ is the same object again.
        state = dict(super().__getstate__())
        training_state = state.get("_training_state")
        if training_state is not None and state.get("model_") is training_state.model:
            del state["model_"]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_training_state" in self.__dict__ and "model_" not in self.__dict__:
            self.model_ = self._training_state.model


def _unchanged_unless_returned(method):
    """``method`` (``fit`` or ``partial_fit``), restoring the estimator's
    attributes as they were before the call if it does not return.

    Validation sets ``n_features_in_`` (and the classifier ``classes_``)
    before training starts; training itself changes no attribute until it
    returns, and ``partial_fit`` trains a copy of the state
    (:meth:`~skssl.training.TrainingState.continued`), so restoring the
    attributes themselves (a shallow copy) restores the estimator.
    """

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return call
