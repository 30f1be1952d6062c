"""Chunked float64 inference: ``transform``, ``score_samples``, ``inverse_transform``,
``predict_proba``.

Rows go through a float64 copy of the fitted networks a chunk at a time, and
each chunk's results are written into preallocated output arrays: beyond the
input and the output, memory stays bounded whatever the number of rows.
Float64 keeps each row's output independent of the other rows' values.
"""

import copy

import numpy as np
import pandas as pd
import torch

from ._boosting import tree_inputs
from ._encoding import RARE_CODE
from ._graph import graph_inputs
from ._objective import elbo

# Rows per chunk at inference: bounds memory for any n_samples.
INFERENCE_CHUNK_ROWS = 65536


def inference_model(model, device):
    """A float64 copy of the fitted networks on ``device``, in eval mode."""
    return copy.deepcopy(model).to(device=device, dtype=torch.float64).eval()


def output_width(model, representation):
    """Columns of ``transform``'s output for ``representation``."""
    if representation == "latent":
        return model.encoder.latent_dim
    return model.encoder.hidden_width


def map_chunks(compute, load_chunk, n_rows, outputs, device, chunk_rows, check=None):
    """``compute(*load_chunk(start, stop), out=views)`` for every chunk of rows.

    ``outputs`` lists the trailing shape and dtype of each output array;
    ``compute`` returns one tensor per output, for the chunk's rows. On the
    CPU it gets ``out``, tensor views of the chunk's rows of the outputs, to
    compute into (None elsewhere); a result that is not its view is copied.
    ``check(start, inputs, results)``, if given, sees each chunk's inputs and
    results first (and raises for results that must not be returned).
    """
    arrays = [np.empty((n_rows, *shape), dtype=dtype) for shape, dtype in outputs]
    with torch.no_grad():
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            views = [
                torch.from_numpy(array[start:stop]) if device.type == "cpu" else None
                for array in arrays
            ]
            inputs = load_chunk(start, stop)
            results = compute(*inputs, out=views)
            if check is not None:
                check(start, inputs, results)
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


def _first_bad_row(values, bad=None):
    """Index of the first row of ``values`` with a non-finite entry (with
    ``bad``, an entry where ``bad(values)`` holds), or None."""
    flags = ~torch.isfinite(values) if bad is None else bad(values)
    flags = flags.reshape(len(values), -1).any(dim=1)
    if not bool(flags.any()):  # one host synchronisation per chunk
        return None
    return int(flags.nonzero()[0, 0])


def _finite_table_results(table_encoder, what):
    """A ``map_chunks`` check: a ValueError for a row of the table whose
    ``what`` overflows float64, naming the row and its most extreme column.

    Only rows far outside the training data overflow (a finite input of
    1e308 standard deviations, say): their output would be NaN or infinite.
    """

    def check(start, inputs, results):
        row = _first_bad_row(results[0])
        if row is None:
            return
        numeric = inputs[0][row]
        detail = ""
        if numeric.numel():
            j = int(numeric.abs().argmax())
            name = table_encoder.column_names_[table_encoder.numeric_index_[j]]
            detail = (
                f"; its most extreme column, {name!r}, is "
                f"{float(numeric[j]):.3g} standard deviations from its fitted mean"
            )
        raise ValueError(
            f"The {what} of row {start + row} of X overflows float64: the row is "
            f"too far from the training data{detail}. Clip such values, or mark "
            "them missing (NaN)."
        )

    return check


def _map_table(state, X, device, compute, width, what, chunk_rows):
    """``compute`` over the rows of the validated table ``X``: one float64
    output of ``width`` columns (None: one value a row), checked finite
    (``what`` names it in the error) unless ``what`` is None."""
    load_chunk = _table_chunks(state.table_encoder, X, device)
    shape = () if width is None else (width,)
    check = None if what is None else _finite_table_results(state.table_encoder, what)
    (values,) = map_chunks(
        compute,
        load_chunk,
        X.shape[0],
        [(shape, np.float64)],
        device,
        chunk_rows,
        check,
    )
    return values


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

    width = output_width(model, representation)
    return _map_table(state, X, device, compute, width, "representation", chunk_rows)


def elbo_rows(state, X, device, chunk_rows=INFERENCE_CHUNK_ROWS):
    """Each row's ELBO at the posterior mean (see ``score_samples``)."""
    model = inference_model(state.model, device)

    def compute(numeric, observed, categorical, out):
        return [elbo(model, numeric, observed, categorical)]

    return _map_table(state, X, device, compute, None, None, chunk_rows)


def class_probabilities(state, X, device, chunk_rows=INFERENCE_CHUNK_ROWS):
    """The classifier's class probabilities for each row of ``X``: its
    head's, blended with its trees' where it has them (:mod:`._boosting`)."""
    model = inference_model(state.model, device)
    boosting = state.boosting

    def compute(numeric, observed, categorical, out):
        logits = model.class_logits(numeric, observed, categorical)
        if boosting is None:
            return [logits.softmax(dim=1)]
        # The experts were fitted on the float32 encoding training uses.
        arrays = (
            numeric.cpu().numpy().astype(np.float32),
            observed.cpu().numpy(),
            categorical.cpu().numpy(),
        )
        head = logits.log_softmax(dim=1).cpu().numpy()
        graph = None
        if boosting.graph is not None:
            graph = graph_inputs(*arrays, state.table_encoder.cardinalities_)
        return [torch.from_numpy(boosting.blend(head, tree_inputs(*arrays), graph))]

    width = model.classifier.n_classes
    what = "class probabilities"
    return _map_table(state, X, device, compute, width, what, chunk_rows)


def decode_rows(
    state, Z, device, representation="latent", chunk_rows=INFERENCE_CHUNK_ROWS
):
    """Decoder means of numeric columns and most probable category codes of
    the rows of ``Z``, ``transform``'s output for ``representation``.

    Hidden activations decode through the posterior mean: ``mu`` is linear
    in the last hidden layer, whose block (the last columns) the mean head
    maps to it; the other layers' columns are not read.
    """
    model = inference_model(state.model, device)
    decoder = model.decoder
    columns = slice(None)
    if representation == "hidden":
        columns = slice(-model.encoder.hidden_layer_sizes[-1], None)

    def load_chunk(start, stop):
        # A copy: Z may be read-only (a pandas output's values), which
        # torch.as_tensor would warn about.
        chunk = Z[start:stop, columns]
        return (torch.tensor(chunk, dtype=torch.float64, device=device),)

    undefined = []  # the chunk's rows with a NaN logit (from an overflow)

    def compute(z, out):
        if representation == "hidden":
            z = model.encoder.mean(z)
        numeric_mean, logits = decoder(z)
        undefined[:] = [torch.isnan(numeric_mean).any(dim=1)]
        if logits is None:
            return [numeric_mean, torch.zeros((len(z), 0), dtype=torch.int64)]
        undefined[0] = undefined[0] | torch.isnan(logits).flatten(1).any(dim=1)
        # Never decode to the shared "rare" code when a real category is
        # available.
        logits[:, :, RARE_CODE] = -torch.inf
        return [numeric_mean, logits.argmax(dim=2)]

    def check(start, inputs, results):
        row = _first_bad_row(results[0])
        if row is None:
            row = _first_bad_row(undefined[0], bad=lambda flags: flags)
        if row is not None:
            raise ValueError(
                f"The decoding of row {start + row} overflows float64: its "
                "representation is too far from the training data's."
            )

    outputs = [((decoder.n_numeric,), np.float64), ((decoder.n_categorical,), np.int64)]
    return map_chunks(
        compute, load_chunk, Z.shape[0], outputs, device, chunk_rows, check
    )
