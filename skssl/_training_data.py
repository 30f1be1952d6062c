"""Training tensors for an encoded table, and minibatches drawn by index.

A table that fits on the training device is moved there once
(:class:`TrainingData`) and minibatches are gathered by index on the device.
A table too large for the device (a GPU with less free memory than the data)
stays in host memory (:class:`HostStreamedData`) and is streamed to the device
in large chunks of pre-shuffled rows, so that neither memory nor per-step
host-device traffic limits training.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ._encoding import EncodedTable

# Fraction of the device's free memory that training data may take; the rest
# is for the networks, their activations and the optimiser.
DEVICE_DATA_FRACTION = 0.5


@dataclass
class Batch:
    """Rows of an encoded table as tensors on one device.

    ``numeric`` is float (standardised, 0 where missing), ``observed`` is bool
    (False where the numeric entry was missing), ``categorical`` is int64 codes.
    ``complete`` is True when these rows are known to have no missing numeric
    entry (``observed`` all True), which lets the augmentation skip the mask;
    False means unknown.
    """

    numeric: torch.Tensor
    observed: torch.Tensor
    categorical: torch.Tensor
    complete: bool = False

    @property
    def n_samples(self):
        return self.numeric.shape[0]

    def rows(self, index):
        return Batch(
            self.numeric[index],
            self.observed[index],
            self.categorical[index],
            self.complete,
        )


def bytes_per_row(encoded, dtype=torch.float32):
    """Memory one training row takes on the device."""
    itemsize = torch.tensor([], dtype=dtype).element_size()
    return (
        encoded.numeric.shape[1] * (itemsize + 1)  # values + observed mask
        + encoded.categorical.shape[1] * 8
    )


def device_row_limit(encoded, device):
    """Rows of ``encoded`` that may live on ``device`` at once (None: all).

    CPU training uses host memory, where the encoded table already is.
    """
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, int(DEVICE_DATA_FRACTION * free / max(1, bytes_per_row(encoded))))


class TrainingData(Batch):
    """A whole encoded table moved to the device once."""

    @classmethod
    def from_encoded(cls, encoded, device, dtype=torch.float32, max_device_rows=None):
        """Device-resident data, or host-streamed when over ``max_device_rows``."""
        if max_device_rows is not None and encoded.n_samples > max_device_rows:
            return HostStreamedData(encoded, device, dtype, max_device_rows)
        return cls(
            numeric=torch.as_tensor(encoded.numeric, dtype=dtype).to(device),
            observed=torch.as_tensor(encoded.observed).to(device),
            categorical=torch.as_tensor(encoded.categorical).to(device),
            complete=bool(encoded.observed.all()),
        )

    @property
    def device(self):
        return self.numeric.device

    def epoch_batches(self, batch_size, generator):
        """The minibatches of one epoch, in a random order."""
        for index in minibatch_indices(
            self.n_samples, batch_size, generator, self.device
        ):
            yield self.rows(index)

    def marginal_pool(self, max_rows, generator):
        """Rows whose column values are the augmentation's empirical marginals."""
        return self


class HostStreamedData:
    """An encoded table kept in host memory and streamed to ``device``.

    Each epoch shuffles all rows, then copies them to the device in chunks of
    at most ``max_device_rows`` rows (from pinned memory, asynchronously, on
    CUDA); minibatches are then cut from the chunk on the device. Batches are
    the same size as for resident data: only their grouping into chunks
    differs.
    """

    def __init__(self, encoded, device, dtype, max_device_rows):
        self.device = device
        self.max_device_rows = max(1, int(max_device_rows))
        self.numeric = torch.as_tensor(encoded.numeric, dtype=dtype)
        self.observed = torch.as_tensor(encoded.observed)
        self.categorical = torch.as_tensor(encoded.categorical)
        self.complete = bool(encoded.observed.all())

    @property
    def n_samples(self):
        return self.numeric.shape[0]

    def _to_device(self, index):
        parts = (self.numeric[index], self.observed[index], self.categorical[index])
        if self.device.type == "cuda":
            # Pinned pages let the copy run asynchronously with computation.
            parts = (p.pin_memory().to(self.device, non_blocking=True) for p in parts)
        else:
            parts = (p.to(self.device) for p in parts)
        return Batch(*parts, complete=self.complete)

    def rows(self, index):
        return self._to_device(index.cpu())

    def epoch_batches(self, batch_size, generator):
        # Indices on the host: one synchronisation per epoch.
        batches = minibatch_indices(self.n_samples, batch_size, generator, "cpu")
        rows_per_chunk = max(batch_size, self.max_device_rows)
        chunk, chunk_rows = [], 0
        for index in batches:
            if chunk and chunk_rows + len(index) > rows_per_chunk:
                yield from self._chunk_batches(chunk)
                chunk, chunk_rows = [], 0
            chunk.append(index)
            chunk_rows += len(index)
        if chunk:
            yield from self._chunk_batches(chunk)

    def _chunk_batches(self, batch_indices):
        """Copy the rows of several minibatches at once; yield the minibatches."""
        on_device = self._to_device(torch.cat(batch_indices))
        start = 0
        for index in batch_indices:
            yield on_device.rows(slice(start, start + len(index)))
            start += len(index)

    def marginal_pool(self, max_rows, generator):
        """A device-resident uniform sample of at most ``max_rows`` rows."""
        n = min(max_rows, self.n_samples, self.max_device_rows)
        perm = torch.randperm(
            self.n_samples, generator=generator, device=generator.device
        )
        return self.rows(perm[:n])


def minibatch_indices(n_samples, batch_size, generator, device):
    """Shuffled row indices split into near-equal minibatches.

    Splitting into ``max(1, n // batch_size)`` parts rather than cutting a
    ragged last batch keeps every batch large enough to supply in-batch
    negatives for the contrastive loss. The shuffle draws on ``generator``'s
    device; the indices are returned on ``device`` (one copy when the two
    differ, e.g. CPU indices for host-streamed data).
    """
    perm = torch.randperm(n_samples, generator=generator, device=generator.device)
    perm = perm.to(device)
    n_batches = max(1, n_samples // batch_size)
    return torch.tensor_split(perm, n_batches)


class RowReservoir:
    """A uniform random sample of at most ``capacity`` rows of a stream.

    Vitter's Algorithm R over encoded rows: after ``t`` rows have been seen,
    each is in the sample with probability ``min(1, capacity / t)``. It keeps
    the augmentation's column marginals representative of all chunks seen by
    ``partial_fit`` in bounded memory.

    Parameters
    ----------
    capacity : int
    rng : numpy.random.Generator
    """

    def __init__(self, capacity, rng):
        self.capacity = capacity
        self.rng = rng
        self.n_seen = 0
        self.table = None

    def update(self, encoded):
        """Offer the rows of ``encoded`` (an EncodedTable) to the sample."""
        if self.table is None:
            self.table = EncodedTable(*(a[:0].copy() for a in encoded.arrays))
        kept = self.table.n_samples
        n_free = max(0, min(self.capacity - kept, encoded.n_samples))
        # Rows that fill the free places, then Algorithm R for the rest.
        self.table = EncodedTable(
            *(
                np.concatenate([old, new[:n_free]])
                for old, new in zip(self.table.arrays, encoded.arrays)
            )
        )
        rest = np.arange(n_free, encoded.n_samples)
        if len(rest):
            seen_before = self.n_seen + rest  # 0-based position in the stream
            slots = self.rng.integers(0, seen_before + 1)
            chosen = np.flatnonzero(slots < self.capacity)
            # Sequential semantics: when several rows draw the same slot, the
            # last one stays (NumPy does not define which duplicate wins).
            reversed_slots = slots[chosen][::-1]
            unique_slots, first = np.unique(reversed_slots, return_index=True)
            sources = rest[chosen][::-1][first]
            for target, source in zip(self.table.arrays, encoded.arrays):
                target[unique_slots] = source[sources]
        self.n_seen += encoded.n_samples
        return self
