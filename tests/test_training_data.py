"""Training tensors (skssl._training_data): resident, host-streamed, reservoir."""

import numpy as np
import pytest
import torch

from skssl._encoding import EncodedTable
from skssl._training_data import (
    HostStreamedData,
    RowReservoir,
    TrainingData,
    minibatch_indices,
)
from tests._helpers import numbered_table, same_rows


def test_minibatches_cover_every_row_once_without_tiny_batches():
    parts = minibatch_indices(1030, 256, torch.Generator().manual_seed(0), "cpu")
    assert len(parts) == 4
    assert sorted(torch.cat(parts).tolist()) == list(range(1030))
    assert min(len(p) for p in parts) >= 256


def test_row_reservoir_is_bounded_and_uniform():
    n, capacity, trials = 100, 10, 2000
    counts = np.zeros(n)
    for seed in range(trials):
        reservoir = RowReservoir(capacity, np.random.default_rng(seed))
        for start in range(0, n, 7):  # uneven chunks
            rows = np.arange(start, min(n, start + 7), dtype=float)[:, None]
            reservoir.update(
                EncodedTable(rows, rows > -1, np.zeros((len(rows), 0), np.int64))
            )
        kept = reservoir.table.numeric[:, 0].astype(int)
        assert len(kept) == capacity == len(set(kept))
        counts[kept] += 1
    frequency = counts / trials
    # Each row kept with probability capacity / n = 0.1 (binomial sd ~0.0067).
    assert np.abs(frequency - 0.1).max() < 0.03
    assert reservoir.n_seen == n


# 150 rows of budget: one 64-row minibatch per chunk; 1000: a quarter, 250
# rows, holds three; a chunk larger than the table: one chunk.
@pytest.mark.parametrize("max_device_rows", [150, 1000, 5000])
def test_host_streamed_batches_are_the_resident_batches(max_device_rows):
    n, batch_size = 1000, 64
    encoded = numbered_table(n)
    device = torch.device("cpu")
    streamed = HostStreamedData(encoded, device, torch.float32, max_device_rows)
    resident = TrainingData.from_encoded(encoded, device, max_device_rows=None)
    assert isinstance(
        TrainingData.from_encoded(encoded, device, max_device_rows=n - 1),
        HostStreamedData,
    )
    assert streamed.rows_per_chunk(batch_size) == max(batch_size, max_device_rows // 4)
    for epoch in range(2):
        # Kept all at once: batches stay valid while the host buffers are
        # refilled for later chunks.
        batches = list(
            streamed.epoch_batches(batch_size, torch.Generator().manual_seed(epoch))
        )
        expected = list(
            resident.epoch_batches(batch_size, torch.Generator().manual_seed(epoch))
        )
        assert len(batches) == len(expected) == n // batch_size
        assert all(map(same_rows, batches, expected))
        assert sorted(torch.cat([b.categorical[:, 0] for b in batches]).tolist()) == (
            list(range(n))
        )
    ordered = list(streamed.ordered_batches(300))
    assert [b.n_samples for b in ordered] == [300, 300, 300, 100]
    assert all(map(same_rows, ordered, resident.ordered_batches(300)))


def test_streamed_chunks_are_bounded_in_bytes():
    # Row: 2 float32 + 2 bool + 1 int64 = 18 bytes; 320 // 18 = 17 rows.
    encoded = numbered_table(1000)
    streamed = HostStreamedData(
        encoded, "cpu", torch.float32, max_device_rows=900, chunk_bytes=10 * 8 * 4
    )
    assert streamed.rows_per_chunk(4) == 17
    assert streamed.rows_per_chunk(64) == 64  # never less than a minibatch
    batches = list(streamed.epoch_batches(4, torch.Generator().manual_seed(0)))
    assert sorted(torch.cat([b.categorical[:, 0] for b in batches]).tolist()) == (
        list(range(1000))
    )
    # from_encoded passes the bound on to the streamed data it makes.
    from_encoded = TrainingData.from_encoded(
        encoded, "cpu", max_device_rows=900, chunk_bytes=10 * 8 * 4
    )
    assert from_encoded.rows_per_chunk(4) == 17


@pytest.mark.parametrize("max_device_rows", [None, 150])
def test_training_rows_know_whether_the_table_has_missing_values(max_device_rows):
    n = 1000
    observed = np.ones((n, 2), bool)
    for has_missing in (False, True):
        observed[-1, 1] = not has_missing  # one missing entry, in the last row
        encoded = EncodedTable(
            np.zeros((n, 2)), observed.copy(), np.zeros((n, 0), np.int64)
        )
        data = TrainingData.from_encoded(
            encoded, torch.device("cpu"), max_device_rows=max_device_rows
        )
        generator = torch.Generator().manual_seed(0)
        pool = data.marginal_pool(100, generator)
        batch = next(iter(data.epoch_batches(64, generator)))
        assert data.complete is pool.complete is batch.complete is not has_missing


def test_streamed_marginal_pool_is_a_uniform_sample_on_the_device():
    encoded = numbered_table(1000)
    streamed = HostStreamedData(encoded, "cpu", torch.float32, max_device_rows=400)
    pool = streamed.marginal_pool(100, torch.Generator().manual_seed(0))
    rows = pool.categorical[:, 0].tolist()
    assert len(rows) == len(set(rows)) == 100
    assert torch.equal(pool.numeric[:, 0], pool.categorical[:, 0].float())
    # Not the first rows: drawn from the whole table.
    assert max(rows) > 500
    small = HostStreamedData(numbered_table(30), "cpu", torch.float32, 10)
    assert small.marginal_pool(100, torch.Generator()).n_samples == 30
    # Resident data is its own pool.
    resident = TrainingData.from_encoded(encoded, "cpu")
    assert resident.marginal_pool(100, torch.Generator()) is resident


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_streams_batches_from_pinned_host_memory():
    n, batch_size = 3000, 64
    encoded = numbered_table(n)
    cuda = torch.device("cuda")
    streamed = HostStreamedData(encoded, cuda, torch.float32, max_device_rows=1000)
    resident = TrainingData.from_encoded(encoded, cuda)
    for epoch in range(2):
        batches = streamed.epoch_batches(
            batch_size, torch.Generator(cuda).manual_seed(epoch)
        )
        expected = resident.epoch_batches(
            batch_size, torch.Generator(cuda).manual_seed(epoch)
        )
        for batch, reference in zip(batches, expected, strict=True):
            assert batch.numeric.device.type == "cuda"
            assert same_rows(batch, reference)
    assert all(part.is_pinned() for part in streamed._buffers[0].parts)
