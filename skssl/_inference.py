"""Chunked float64 inference: ``transform``, ``score_samples``, ``inverse_transform``.

Rows go through a float64 copy of the fitted networks a chunk at a time, and
each chunk's results are written into preallocated output arrays: beyond the
input and the output, memory stays bounded whatever the number of rows.
Float64 keeps each row's output independent of the other rows' values.
"""

import copy

import numpy as np
import pandas as pd
import torch

from ._encoding import RARE_CODE
from ._objective import elbo

# Rows per chunk at inference: bounds memory for any n_samples.
INFERENCE_CHUNK_ROWS = 65536


def inference_model(model, device):
    """A float64 copy of the fitted networks on ``device``, in eval mode."""
    return copy.deepcopy(model).to(device=device, dtype=torch.float64).eval()


def output_width(model, representation):
    """Columns of ``transform``'s output for ``representation``."""
    if representation == "latent":
        return model.encoder.mean.out_features
    return model.encoder.hidden_width


def map_chunks(compute, load_chunk, n_rows, outputs, device, chunk_rows):
    """``compute(*load_chunk(start, stop), out=views)`` for every chunk of rows.

    ``outputs`` lists the trailing shape and dtype of each output array;
    ``compute`` returns one tensor per output, for the chunk's rows. On the
    CPU it gets ``out``, tensor views of the chunk's rows of the outputs, to
    compute into (None elsewhere); a result that is not its view is copied.
    """
    arrays = [np.empty((n_rows, *shape), dtype=dtype) for shape, dtype in outputs]
    with torch.no_grad():
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            views = [
                torch.from_numpy(array[start:stop]) if device.type == "cpu" else None
                for array in arrays
            ]
            results = compute(*load_chunk(start, stop), out=views)
            for array, view, result in zip(arrays, views, results):
                if result is not view:
                    array[start:stop] = result.cpu().numpy()
    return arrays


def _table_chunks(table_encoder, X, device):
    """``load_chunk`` for rows of a validated table: encoded float64 tensors."""
    rows = X.iloc if isinstance(X, pd.DataFrame) else X

    def load_chunk(start, stop):
        encoded = table_encoder.transform(rows[start:stop])
        return (
            torch.as_tensor(encoded.numeric, dtype=torch.float64).to(device),
            torch.as_tensor(encoded.observed).to(device),
            torch.as_tensor(encoded.categorical).to(device),
        )

    return load_chunk


def transform_rows(state, X, representation, device, chunk_rows=INFERENCE_CHUNK_ROWS):
    """The representation of each row of the validated table ``X``."""
    model = inference_model(state.model, device)
    if representation == "latent":

        def compute(numeric, observed, categorical, out):
            return [model.encoder.posterior_mean(numeric, observed, categorical)]

    else:

        def compute(numeric, observed, categorical, out):
            return [
                model.encoder.hidden_activations(
                    numeric, observed, categorical, out=out[0]
                )
            ]

    load_chunk = _table_chunks(state.table_encoder, X, device)
    width = output_width(model, representation)
    (Z,) = map_chunks(
        compute, load_chunk, X.shape[0], [((width,), np.float64)], device, chunk_rows
    )
    return Z


def elbo_rows(state, X, device, chunk_rows=INFERENCE_CHUNK_ROWS):
    """Each row's ELBO at the posterior mean (see ``score_samples``)."""
    model = inference_model(state.model, device)

    def compute(numeric, observed, categorical, out):
        return [elbo(model, numeric, observed, categorical)]

    load_chunk = _table_chunks(state.table_encoder, X, device)
    (scores,) = map_chunks(
        compute, load_chunk, X.shape[0], [((), np.float64)], device, chunk_rows
    )
    return scores


def class_probabilities(state, X, device, chunk_rows=INFERENCE_CHUNK_ROWS):
    """The classification head's class probabilities for each row of ``X``."""
    model = inference_model(state.model, device)

    def compute(numeric, observed, categorical, out):
        logits = model.class_logits(numeric, observed, categorical)
        return [logits.softmax(dim=1)]

    load_chunk = _table_chunks(state.table_encoder, X, device)
    width = model.classifier.n_classes
    (proba,) = map_chunks(
        compute, load_chunk, X.shape[0], [((width,), np.float64)], device, chunk_rows
    )
    return proba


def decode_rows(state, Z, device, chunk_rows=INFERENCE_CHUNK_ROWS):
    """Decoder means of numeric columns and most probable category codes."""
    model = inference_model(state.model, device)
    decoder = model.decoder

    def load_chunk(start, stop):
        return (torch.as_tensor(Z[start:stop], dtype=torch.float64).to(device),)

    def compute(z, out):
        numeric_mean, logits = decoder(z)
        if logits is None:
            return [numeric_mean, torch.zeros((len(z), 0), dtype=torch.int64)]
        # Never decode to the shared "rare" code when a real category is
        # available.
        logits[:, :, RARE_CODE] = -torch.inf
        return [numeric_mean, logits.argmax(dim=2)]

    outputs = [((decoder.n_numeric,), np.float64), ((decoder.n_categorical,), np.int64)]
    return map_chunks(compute, load_chunk, Z.shape[0], outputs, device, chunk_rows)
