"""What a fitted estimator pickles: NumPy arrays and plain Python values.

The fitted networks, and what ``partial_fit`` resumes from (the optimiser's
moments, the random generator's state), are torch tensors while in use.
Pickled, they are replaced by NumPy arrays and the arguments that rebuild the
networks, and rebuilt on loading. So a pickle holds no torch object: it loads
on any machine with torch, whatever device trained it, and ``skops.io`` can
persist it (skops refuses torch tensors) with no type to trust beyond
skssl's own classes and, for a classifier with trees, those of scikit-learn's
HistGradientBoostingClassifier (docs/persistence.md lists them).

The hooks are :meth:`skssl.training.TrainingState.__getstate__` (the networks),
:meth:`skssl.training.StreamState.__getstate__` (optimiser and generator) and
the estimators' ``__getstate__`` (which pickle the networks once, in the
training state, not again as ``model_``).
"""

import numpy as np
import torch

from ._networks import ContrastiveVAE


def module_state(model):
    """``model`` (a :class:`~skssl._networks.ContrastiveVAE`) as plain data:
    its constructor's arguments and its ``state_dict`` as NumPy arrays.

    Networks loaded from a pickle of skssl 0.1 do not know their arguments:
    they stay torch modules (which pickle, and which skops refuses).
    """
    if not hasattr(model, "constructor_arguments"):
        return model
    return {
        "arguments": dict(model.constructor_arguments),
        "state_dict": {
            name: tensor.detach().cpu().numpy().copy()
            for name, tensor in model.state_dict().items()
        },
    }


def module_from_state(state):
    """The networks :func:`module_state` describes, on the CPU, in eval mode."""
    # Arrays copied: the networks' buffers are made from them, and loaded
    # arrays may be read-only memory maps (joblib's mmap_mode).
    arguments = {
        name: np.array(value) if isinstance(value, np.ndarray) else value
        for name, value in state["arguments"].items()
    }
    # Construction initialises weights from torch's global RNG, which the
    # caller's RNG state must not feel: fork it (the weights are then loaded).
    with torch.random.fork_rng(devices=[]):
        model = ContrastiveVAE(**arguments)
    model.load_state_dict(
        {
            name: torch.from_numpy(np.array(array))
            for name, array in state["state_dict"].items()
        }
    )
    return model.eval()


def tensors_to_arrays(value):
    """``value`` (nested dicts, lists, tuples) with each tensor a NumPy array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return {key: tensors_to_arrays(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(tensors_to_arrays(item) for item in value)
    return value


def arrays_to_tensors(value):
    """The inverse of :func:`tensors_to_arrays`: each NumPy array a CPU tensor."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, dict):
        return {key: arrays_to_tensors(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(arrays_to_tensors(item) for item in value)
    return value
