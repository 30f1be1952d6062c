"""The networks (skssl._networks): shapes, widths, heads, the decoder's masks."""

import math

import pytest
import torch
from torch import nn

from skssl._encoding import MISSING_CODE
from skssl._networks import (
    ContrastiveVAE,
    Decoder,
    embedding_dim_for,
    embedding_lookup,
    network_sizes,
)


def _model(**overrides):
    params = dict(
        n_numeric=3,
        missing_indicator_index=[0, 2],
        cardinalities=[4, 6],
        hidden_layer_sizes=[16, 8],
        latent_dim=5,
        projection_dim=7,
        with_decoder=True,
        with_projection=True,
    )
    torch.manual_seed(0)
    return ContrastiveVAE(**{**params, **overrides}).double().eval()


def _rows(n=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    numeric = torch.randn(n, 3, generator=g, dtype=torch.float64)
    observed = torch.rand(n, 3, generator=g) > 0.3
    categorical = torch.stack(
        [
            torch.randint(0, 4, (n,), generator=g),
            torch.randint(0, 6, (n,), generator=g),
        ],
        dim=1,
    )
    return numeric, observed, categorical


def test_input_layer_concatenates_values_indicators_and_embeddings():
    model = _model()
    layer = model.encoder.input_layer
    assert layer.embedding_dim == embedding_dim_for([4, 6])
    # 3 numeric + 2 missing indicators + 2 columns of embeddings.
    assert layer.n_outputs == 3 + 2 + 2 * layer.embedding_dim
    numeric, observed, categorical = _rows()
    features = layer(numeric, observed, categorical)
    assert features.shape == (11, layer.n_outputs)
    torch.testing.assert_close(features[:, :3], numeric)
    torch.testing.assert_close(features[:, 3:5], (~observed[:, [0, 2]]).double())
    # The second column's codes index past the first column's vocabulary.
    second = layer.embedding(categorical[:, 1] + 4)
    torch.testing.assert_close(features[:, 5 + layer.embedding_dim :], second)


@pytest.mark.parametrize("threads", [1, 2])
def test_embedding_lookup_gradient_is_nn_embeddings_bit_for_bit(threads):
    # Many repeated indices, as a batch of categorical columns gives: the
    # accumulated gradient must be the same sums in the same order.
    generator = torch.Generator().manual_seed(0)
    embedding = nn.Embedding(40, 3)
    indices = torch.randint(0, 40, (768, 25), generator=generator)
    upstream = torch.randn(768, 25, 3, generator=generator)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        embedding(indices).backward(upstream)
        expected = embedding.weight.grad.clone()
        embedding.weight.grad = None
        looked_up = embedding_lookup(embedding, indices)
        looked_up.backward(upstream)
    finally:
        torch.set_num_threads(previous)
    assert looked_up.grad_fn is not None
    assert torch.equal(looked_up.detach(), embedding(indices).detach())
    assert torch.equal(embedding.weight.grad, expected)


def test_numeric_only_input_layer_is_the_values():
    model = _model(missing_indicator_index=[], cardinalities=[])
    numeric, observed, categorical = _rows()
    layer = model.encoder.input_layer
    assert layer.n_outputs == 3 and embedding_dim_for([]) == 0
    assert layer(numeric, observed, categorical[:, :0]) is numeric


@pytest.mark.parametrize("largest, width", [(2, 2), (4, 3), (50, 14), (10_000, 16)])
def test_embedding_width_follows_the_largest_vocabulary(largest, width):
    assert embedding_dim_for([2, largest]) == width


def test_encoder_shapes_and_hidden_width():
    model = _model()
    encoder = model.encoder
    numeric, observed, categorical = _rows()
    mean, log_var = encoder(numeric, observed, categorical)
    assert mean.shape == log_var.shape == (11, 5)
    assert encoder.hidden_width == 16 + 8
    hidden = encoder.hidden_activations(numeric, observed, categorical)
    assert hidden.shape == (11, 24) and (hidden >= 0).all()
    # The last hidden layer's activations are what the heads read.
    features = encoder.input_layer(numeric, observed, categorical)
    torch.testing.assert_close(hidden[:, 16:], encoder.body(features))
    torch.testing.assert_close(encoder.mean(hidden[:, 16:]), mean)
    # The log-variance is clamped.
    assert log_var.abs().max() <= 12.0


def test_posterior_mean_is_the_encoders_mean():
    model = _model()
    rows = _rows()
    mean, _ = model.encoder(*rows)
    assert torch.equal(model.encoder.posterior_mean(*rows), mean)
    features = model.encoder.input_layer(*rows)
    only_mean, none = model.encoder.from_features(features, log_var_rows=None)
    assert none is None and torch.equal(only_mean, mean)
    # The log-variance of some rows only: the same values for those rows.
    full = model.encoder.from_features(features)[1]
    last = model.encoder.from_features(features, log_var_rows=slice(-4, None))[1]
    assert torch.equal(last, full[-4:])


def test_decoder_and_projection_shapes():
    model = _model()
    z = torch.randn(9, 5, dtype=torch.float64)
    numeric, logits = model.decoder(z)
    assert numeric.shape == (9, 3)
    assert logits.shape == (9, 2, 6)  # (rows, columns, largest vocabulary)
    assert model.projection(z).shape == (9, 7)
    numeric_only = Decoder(5, [8], n_numeric=3, cardinalities=[]).double()
    numeric, logits = numeric_only(z)
    assert numeric.shape == (9, 3) and logits is None


def test_decoder_never_predicts_the_missing_code_or_slots_past_a_vocabulary():
    model = _model()
    z = 100 * torch.randn(500, 5, dtype=torch.float64)
    _, logits = model.decoder(z)
    assert (logits[:, :, MISSING_CODE] == -math.inf).all()
    # The first column has 4 codes of the 6 slots.
    assert (logits[:, 0, 4:] == -math.inf).all()
    assert torch.isfinite(logits[:, 0, 1:4]).all()
    assert torch.isfinite(logits[:, 1, 1:]).all()
    assert (logits.argmax(dim=2) != MISSING_CODE).all()
    assert (logits[:, 0].argmax(dim=1) < 4).all()


def test_architecture_lists_what_shapes_the_parameters():
    assert _model().architecture() == {
        "hidden_layer_sizes": [16, 8],
        "latent_dim": 5,
        "projection_dim": 7,
        "with_decoder": True,
        "n_classes": None,
    }
    bare = _model(with_decoder=False, with_projection=False, hidden_layer_sizes=[4])
    assert bare.decoder is None and bare.projection is None
    assert bare.architecture() == {
        "hidden_layer_sizes": [4],
        "latent_dim": 5,
        "projection_dim": None,
        "with_decoder": False,
        "n_classes": None,
    }
    assert _model(n_classes=3).architecture()["n_classes"] == 3
    # The decoder mirrors the encoder.
    widths = [m.out_features for m in _model().decoder.body if isinstance(m, nn.Linear)]
    assert widths == [8, 16]


@pytest.mark.parametrize(
    "n_components, latent_dim, hidden, representation, expected",
    [
        # The defaults: two layers of 256, a latent of 128.
        (512, None, None, "hidden", ([256, 256], 128)),
        (513, None, None, "hidden", ([257, 256], 128)),  # remainder first
        (1, None, None, "hidden", ([1], 1)),
        (3, None, None, "hidden", ([2, 1], 1)),
        (48, 5, (32, 16), "hidden", ([32, 16], 5)),
        (8, None, 8, "hidden", ([8], 2)),
        (16, None, None, "latent", ([256, 256], 16)),
        (16, 16, (8,), "latent", ([8], 16)),
    ],
)
def test_network_sizes_resolve_the_estimator_parameters(
    n_components, latent_dim, hidden, representation, expected
):
    sizes = network_sizes(n_components, latent_dim, hidden, representation)
    assert sizes == expected
    # transform's width is n_components either way.
    width = sum(sizes[0]) if representation == "hidden" else sizes[1]
    assert width == n_components


def test_network_sizes_refuse_sizes_that_contradict_n_components():
    with pytest.raises(ValueError, match=r"\(32, 16\) sums to 48.*n_components=512"):
        network_sizes(512, None, (32, 16), "hidden")
    with pytest.raises(ValueError, match="latent_dim=4 and n_components=8"):
        network_sizes(8, 4, None, "latent")
    for bad in [(), (0, 4), (4.5,), (4, True)]:
        with pytest.raises(ValueError, match="positive integers"):
            network_sizes(8, None, bad, "hidden")
