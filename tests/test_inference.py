"""Chunked float64 inference (skssl._inference): transform, ELBO, decoding."""

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer
from skssl._encoding import MISSING_CODE, RARE_CODE
from skssl._inference import (
    decode_rows,
    elbo_rows,
    inference_model,
    map_chunks,
    transform_rows,
)
from skssl._input import validate_input
from tests._helpers import FAST, FAST_LATENT, SMALL, blobs, with_representation

CPU = torch.device("cpu")


def _validated(est, X):
    """``X`` as ``transform`` validates it, for the inference functions."""
    mask = est.table_encoder_.categorical_mask
    return validate_input(est, X, reset=False, categorical_mask=mask)[0]


def test_inverse_transform_returns_input_space(mixed_frame):
    est = ContrastiveVAETransformer(**FAST_LATENT).fit(mixed_frame)
    back = est.inverse_transform(est.transform(mixed_frame))
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == list(mixed_frame.columns)
    assert set(back["city"].dropna()) <= {"paris", "lyon", "nice"}
    assert back["age"].notna().all()

    X, _ = load_breast_cancer(return_X_y=True)
    numeric = ContrastiveVAETransformer(**FAST_LATENT).fit(X)
    X_back = numeric.inverse_transform(numeric.transform(X))
    assert X_back.shape == X.shape and X_back.dtype == np.float64
    # Decoded values live on the input's scale (learned de-standardisation).
    assert abs(np.mean(X_back[:, 3]) - np.mean(X[:, 3])) < 3 * np.std(X[:, 3])
    with pytest.raises(ValueError, match="n_components"):
        numeric.inverse_transform(np.zeros((2, 5)))


def test_inverse_transform_decodes_hidden_activations_through_the_mean(mixed_frame):
    est = ContrastiveVAETransformer(**FAST).fit(mixed_frame)
    hidden = est.transform(mixed_frame)
    back = est.inverse_transform(hidden)
    # The latent route of the same networks: mu, then the decoder. The
    # hidden route computes mu from the last layer's block with the mean
    # head, so both return the same table, dtypes and categories included.
    latent = with_representation(copy.deepcopy(est), "latent")
    expected = latent.inverse_transform(latent.transform(mixed_frame))
    pd.testing.assert_frame_equal(back, expected, rtol=1e-12)
    assert back.shape == mixed_frame.shape
    assert list(back.columns) == list(mixed_frame.columns)
    # Only the last hidden layer is read: the first layers' columns may be
    # anything.
    scrambled = hidden.copy()
    scrambled[:, : -est.hidden_layer_sizes_[-1]] = -1.0
    pd.testing.assert_frame_equal(est.inverse_transform(scrambled), back)

    X, _ = load_breast_cancer(return_X_y=True)
    numeric = ContrastiveVAETransformer(**FAST).fit(X)
    X_back = numeric.inverse_transform(numeric.transform(X))
    assert X_back.shape == X.shape and X_back.dtype == np.float64
    with pytest.raises(ValueError, match="expects 32 .n_components"):
        numeric.inverse_transform(np.zeros((2, 4)))


def test_without_a_decoder_the_errors_say_what_to_do_instead(mixed_frame):
    est = ContrastiveVAETransformer(**FAST, vae_weight=0).fit(mixed_frame)
    assert not hasattr(est, "inverse_transform")
    with pytest.raises(AttributeError, match="vae_weight=0.*regressor"):
        est.inverse_transform(est.transform(mixed_frame))
    with pytest.raises(AttributeError, match="vae_weight=0.*vae_weight > 0"):
        est.score_samples(mixed_frame)
    with pytest.raises(AttributeError, match="vae_weight=0.*pass scoring="):
        est.score(mixed_frame)
    # Before fit, the parameters tell.
    assert not hasattr(ContrastiveVAETransformer(vae_weight=0), "score")
    assert hasattr(ContrastiveVAETransformer(), "score")


def test_representation_is_the_hidden_layers_or_the_posterior_mean(mixed_frame):
    est = ContrastiveVAETransformer(
        n_components=24,
        hidden_layer_sizes=(16, 8),
        latent_dim=3,
        max_epochs=2,
        random_state=0,
    ).fit(mixed_frame)
    hidden = est.transform(mixed_frame)
    assert hidden.shape == (len(mixed_frame), 24) and (hidden >= 0).all()
    assert len(est.get_feature_names_out()) == 24

    # The same numbers by hand: each Linear + ReLU of the encoder in turn.
    model = inference_model(est.model_, CPU)
    assert model.encoder.body[0].weight.dtype == torch.float64
    assert est.model_.encoder.body[0].weight.dtype == torch.float32  # a copy
    encoded = est.table_encoder_.transform(mixed_frame)
    numeric = torch.as_tensor(encoded.numeric, dtype=torch.float64)
    observed = torch.as_tensor(encoded.observed)
    categorical = torch.as_tensor(encoded.categorical)
    with torch.no_grad():
        features = model.encoder.input_layer(numeric, observed, categorical)
        first = torch.relu(model.encoder.body[0](features))
        second = torch.relu(model.encoder.body[2](first))
        mean, _ = model.encoder(numeric, observed, categorical)
    np.testing.assert_allclose(hidden, torch.cat([first, second], 1).numpy())
    # Allocated (other devices) or written into the caller's buffer (CPU).
    allocated = model.encoder.hidden_activations(numeric, observed, categorical)
    np.testing.assert_array_equal(allocated.numpy(), hidden)
    buffer = torch.full((len(mixed_frame), 24), np.nan, dtype=torch.float64)
    written = model.encoder.hidden_activations(
        numeric, observed, categorical, out=buffer
    )
    assert written is buffer
    np.testing.assert_array_equal(buffer.numpy(), hidden)

    # The same sizes train the same networks whatever the representation;
    # only transform differs.
    latent = clone(est).set_params(representation="latent", n_components=3)
    latent.fit(mixed_frame)
    np.testing.assert_allclose(latent.transform(mixed_frame), mean.numpy())
    assert latent.get_feature_names_out().shape == (3,)
    assert latent.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(
        with_representation(est, "latent").transform(mixed_frame),
        latent.transform(mixed_frame),
    )


def test_transform_in_chunks_matches_one_pass():
    X, _ = blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    whole = est.transform(X)
    chunked = transform_rows(est._training_state, X, "hidden", CPU, chunk_rows=7)
    # Same values up to float64 rounding (matrix products block differently).
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("chunk_rows", [1, 7, 119, 120, 10_000])
def test_every_inference_in_chunks_matches_one_pass(mixed_frame, chunk_rows):
    est = ContrastiveVAETransformer(**FAST_LATENT).fit(mixed_frame)
    state, X = est._training_state, _validated(est, mixed_frame)
    for representation in ("hidden", "latent"):
        whole = with_representation(est, representation).transform(mixed_frame)
        chunked = transform_rows(state, X, representation, CPU, chunk_rows=chunk_rows)
        np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-14)
    scores = elbo_rows(state, X, CPU, chunk_rows=chunk_rows)
    np.testing.assert_allclose(
        scores, est.score_samples(mixed_frame), rtol=1e-12, atol=1e-12
    )
    Z = est.transform(mixed_frame)
    numeric, codes = decode_rows(state, Z, CPU, chunk_rows=chunk_rows)
    whole_numeric, whole_codes = decode_rows(state, Z, CPU)
    np.testing.assert_allclose(numeric, whole_numeric, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(codes, whole_codes)
    assert numeric.shape == (120, 2) and codes.shape == (120, 3)


def test_map_chunks_fills_preallocated_outputs_a_chunk_at_a_time():
    loaded, written = [], []

    def load_chunk(start, stop):
        loaded.append((start, stop))
        return (torch.arange(start, stop, dtype=torch.float64),)

    def compute(rows, out):
        written.append(out[0])
        # The first output is computed into its view, the second returned.
        torch.mul(rows[:, None], 2.0, out=out[0])
        return [out[0], rows.long()]

    doubled, index = map_chunks(
        compute,
        load_chunk,
        25,
        [((1,), np.float64), ((), np.int64)],
        CPU,
        chunk_rows=10,
    )
    assert loaded == [(0, 10), (10, 20), (20, 25)]
    # Views of the output arrays, a chunk's rows each.
    assert [len(view) for view in written] == [10, 10, 5]
    assert all(np.shares_memory(view.numpy(), doubled) for view in written)
    np.testing.assert_array_equal(doubled[:, 0], 2.0 * np.arange(25))
    np.testing.assert_array_equal(index, np.arange(25))
    assert index.dtype == np.int64


class _RecordingEncoder:
    """A fitted table encoder that records the rows it is asked to encode."""

    def __init__(self, encoder):
        self.encoder, self.chunks = encoder, []

    def transform(self, rows):
        self.chunks.append(rows)
        return self.encoder.transform(rows)


def _recorded_transform(est, X, chunk_rows):
    """transform_rows with ``est``'s state, and the chunks its encoder saw."""
    encoder = _RecordingEncoder(est.table_encoder_)
    state = dataclasses.replace(est._training_state, table_encoder=encoder)
    Z = transform_rows(state, _validated(est, X), "hidden", CPU, chunk_rows)
    return Z, encoder.chunks


def test_transform_encodes_rows_chunk_by_chunk():
    X, _ = blobs()
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    est_frame = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(frame)
    for fitted, data in ((est, X), (est_frame, frame)):
        Z, chunks = _recorded_transform(fitted, data, chunk_rows=64)
        seen = [len(rows) for rows in chunks]
        assert Z.shape == (len(X), 32)
        assert max(seen) == 64 and sum(seen) == len(X)
        np.testing.assert_array_equal(Z, fitted.transform(data))


def test_integer_tables_are_encoded_without_a_float_copy():
    X, _ = blobs()
    X_int = np.round(X * 10).astype(np.int16)
    X_float = X_int.astype(np.float64)
    est = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X_int)
    est_float = ContrastiveVAETransformer(**SMALL, max_epochs=2).fit(X_float)
    np.testing.assert_array_equal(est.transform(X_int), est_float.transform(X_float))
    _, chunks = _recorded_transform(est, X_int, chunk_rows=64)
    # The encoder converts each chunk of the caller's array itself: no
    # float64 copy of the whole table is made first.
    assert len(chunks) == 10
    assert all(c.dtype == np.int16 and np.shares_memory(c, X_int) for c in chunks)


def test_decoding_never_returns_the_shared_rare_code(mixed_frame):
    est = ContrastiveVAETransformer(**FAST_LATENT).fit(mixed_frame)
    Z = np.random.default_rng(0).normal(scale=10.0, size=(500, 4))
    _, codes = decode_rows(est._training_state, Z, CPU, chunk_rows=64)
    assert not np.isin(codes, [RARE_CODE, MISSING_CODE]).any()
    cardinalities = est.table_encoder_.cardinalities_
    assert (codes < cardinalities[None, :]).all()
