"""Training tensors for an encoded table, and minibatches drawn by index.

A table that fits on the training device is moved there once
(:class:`TrainingData`) and minibatches are gathered by index on the device.
A table too large for the device (a GPU with less free memory than the data)
stays in host memory (:class:`HostStreamedData`) and is streamed to the device
in large chunks of pre-shuffled rows, so that neither memory nor per-step
host-device traffic limits training.
"""

import operator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ._encoding import EncodedTable

# The class index of a row without a label.
UNLABELED = -1

# Fraction of the device's free memory that training data may take; the rest
# is for the networks, their activations and the optimiser.
DEVICE_DATA_FRACTION = 0.5

# Largest chunk of rows streamed to the device at once: large enough that a
# copy (milliseconds) is rare next to training on it, small enough that the
# two pinned host buffers stay modest.
STREAM_CHUNK_BYTES = 256 * 2**20


@dataclass
class Batch:
    """Rows of an encoded table as tensors on one device.

    ``numeric`` is float (standardised, 0 where missing), ``observed`` is bool
    (False where the numeric entry was missing), ``categorical`` is int64 codes.
    ``complete`` is True when these rows are known to have no missing numeric
    entry (``observed`` all True), which lets the augmentation skip the mask;
    False means unknown. ``labels`` (the classifier's) are int64 class indices,
    ``UNLABELED`` for rows without a label; None for the transformer.
    ``weights`` are the rows' float32 weights in the loss (``sample_weight``,
    of mean 1 over the rows trained on); None: unweighted.
    """

    numeric: torch.Tensor
    observed: torch.Tensor
    categorical: torch.Tensor
    complete: bool = False
    labels: torch.Tensor = None
    weights: torch.Tensor = None

    @property
    def n_samples(self):
        return self.numeric.shape[0]

    def rows(self, index):
        """The rows ``index`` (a slice, or a tensor of row numbers)."""
        if isinstance(index, slice):
            take = operator.itemgetter(index)
        else:
            # index_select gathers a minibatch's rows several times faster
            # than indexing does on the CPU (docs/scale.md); same values.
            def take(values):
                return values.index_select(0, index)

        return Batch(
            take(self.numeric),
            take(self.observed),
            take(self.categorical),
            self.complete,
            None if self.labels is None else take(self.labels),
            None if self.weights is None else take(self.weights),
        )

    def ordered_batches(self, batch_size):
        """All rows in order, in minibatches of ``batch_size`` (the last shorter)."""
        for start in range(0, self.n_samples, batch_size):
            yield self.rows(slice(start, start + batch_size))


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
    def from_encoded(
        cls,
        encoded,
        device,
        dtype=torch.float32,
        max_device_rows=None,
        chunk_bytes=STREAM_CHUNK_BYTES,
        labels=None,
        weights=None,
    ):
        """Device-resident data, or host-streamed when over ``max_device_rows``
        (in chunks of at most ``chunk_bytes``). ``labels``: the rows' class
        indices (int64, ``UNLABELED`` for none), or None; ``weights``: the
        rows' weights in the loss, or None."""
        if max_device_rows is not None and encoded.n_samples > max_device_rows:
            return HostStreamedData(
                encoded,
                device,
                dtype,
                max_device_rows,
                chunk_bytes=chunk_bytes,
                labels=labels,
                weights=weights,
            )
        return cls(
            numeric=torch.as_tensor(encoded.numeric, dtype=dtype).to(device),
            observed=torch.as_tensor(encoded.observed).to(device),
            categorical=torch.as_tensor(encoded.categorical).to(device),
            complete=bool(encoded.observed.all()),
            labels=None if labels is None else torch.as_tensor(labels).to(device),
            weights=_weights_tensor(weights, dtype, device),
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

    Each epoch shuffles all rows and cuts them into minibatches exactly as for
    resident data; consecutive minibatches are then grouped into chunks,
    copied to the device a chunk at a time, and cut back into minibatches
    there. A chunk holds at most a quarter of ``max_device_rows`` (and at most
    ``chunk_bytes``), because two chunks can be alive on the
    device at once: the one whose last minibatch is still being trained on
    and the next.

    While a chunk trains, a background thread gathers the next chunk's rows
    into one of two reused host buffers (pinned on CUDA, so the copy to the
    device is asynchronous and the gather never re-pins memory). The host
    waits on the device only in that thread, before refilling a buffer whose
    copy, two chunks back, might still be running.
    """

    def __init__(
        self,
        encoded,
        device,
        dtype,
        max_device_rows,
        chunk_bytes=STREAM_CHUNK_BYTES,
        labels=None,
        weights=None,
    ):
        self.device = torch.device(device)
        self.max_device_rows = max(1, int(max_device_rows))
        self.chunk_bytes = chunk_bytes
        self.numeric = torch.as_tensor(encoded.numeric, dtype=dtype)
        self.observed = torch.as_tensor(encoded.observed)
        self.categorical = torch.as_tensor(encoded.categorical)
        self.complete = bool(encoded.observed.all())
        self.labels = None if labels is None else torch.as_tensor(labels)
        self.weights = _weights_tensor(weights, dtype, "cpu")
        self._row_bytes = bytes_per_row(encoded, dtype)
        self._buffers = None  # two sets of host buffers, made on first use

    @property
    def n_samples(self):
        return self.numeric.shape[0]

    @property
    def _optional_parts(self):
        """The names of the optional per-row tensors these rows have."""
        return [
            name for name in ("labels", "weights") if getattr(self, name) is not None
        ]

    @property
    def _parts(self):
        parts = self.numeric, self.observed, self.categorical
        return (*parts, *(getattr(self, name) for name in self._optional_parts))

    def rows(self, index):
        """The rows ``index`` on the device (one gather and copy, no reuse)."""
        index = index.cpu()
        return self._to_device([part[index] for part in self._parts])

    def _to_device(self, parts, non_blocking=False):
        if self.device.type == "cpu":  # a copy: buffers are refilled later
            parts = [part.clone() for part in parts]
        else:
            # Asynchronous only where an event guards the buffer's reuse.
            non_blocking = non_blocking and self.device.type == "cuda"
            parts = [part.to(self.device, non_blocking=non_blocking) for part in parts]
        optional = dict(zip(self._optional_parts, parts[3:]))
        return Batch(*parts[:3], complete=self.complete, **optional)

    def rows_per_chunk(self, batch_size):
        limit = min(
            self.max_device_rows // 4, self.chunk_bytes // max(1, self._row_bytes)
        )
        return max(batch_size, limit)

    def epoch_batches(self, batch_size, generator):
        # Indices on the host: one synchronisation per epoch.
        batches = minibatch_indices(self.n_samples, batch_size, generator, "cpu")
        return self._stream(batches, self.rows_per_chunk(batch_size))

    def ordered_batches(self, batch_size):
        """All rows in order, in minibatches of ``batch_size`` (the last shorter)."""
        batches = torch.arange(self.n_samples).split(batch_size)
        return self._stream(batches, self.rows_per_chunk(batch_size))

    def _stream(self, batches, rows_per_chunk):
        chunks = list(_group_batches(batches, rows_per_chunk))
        buffers = self._host_buffers(max(sum(map(len, c)) for c in chunks))
        with ThreadPoolExecutor(max_workers=1) as gatherer:
            pending = gatherer.submit(self._gather, chunks[0], buffers[0])
            for k, chunk in enumerate(chunks):
                host = pending.result()
                on_device = self._to_device(host, non_blocking=True)
                buffers[k % 2].copied = _record_event(self.device)
                if k + 1 < len(chunks):
                    pending = gatherer.submit(
                        self._gather, chunks[k + 1], buffers[(k + 1) % 2]
                    )
                start = 0
                for index in chunk:
                    yield on_device.rows(slice(start, start + len(index)))
                    start += len(index)

    def _host_buffers(self, n_rows):
        """Two sets of host buffers of at least ``n_rows`` rows, kept for reuse."""
        if self._buffers is None or self._buffers[0].n_rows < n_rows:
            pin = self.device.type == "cuda"
            self._buffers = [
                _HostBuffer(
                    [
                        torch.empty(
                            (n_rows, *part.shape[1:]), dtype=part.dtype, pin_memory=pin
                        )
                        for part in self._parts
                    ]
                )
                for _ in range(2)
            ]
        return self._buffers

    def _gather(self, chunk, buffer):
        """Rows of ``chunk``'s minibatches, in order, written into ``buffer``."""
        if buffer.copied is not None:
            buffer.copied.synchronize()  # its previous copy has left it
        index = torch.cat(chunk)
        return [
            torch.index_select(part, 0, index, out=out[: len(index)])
            for part, out in zip(self._parts, buffer.parts)
        ]

    def marginal_pool(self, max_rows, generator):
        """A device-resident uniform sample of at most ``max_rows`` rows."""
        n = min(max_rows, self.n_samples)
        perm = torch.randperm(
            self.n_samples, generator=generator, device=generator.device
        )
        return self.rows(perm[:n])


def _weights_tensor(weights, dtype, device):
    """Row weights (a NumPy array or None) as a tensor of ``dtype`` on ``device``."""
    if weights is None:
        return None
    return torch.as_tensor(np.asarray(weights), dtype=dtype).to(device)


class _HostBuffer:
    """Host tensors a chunk is gathered into, and the event of its last copy."""

    def __init__(self, parts):
        self.parts = parts
        self.n_rows = parts[0].shape[0]
        self.copied = None


def _record_event(device):
    """An event after the work queued so far on ``device`` (None off CUDA)."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record(torch.cuda.current_stream(device))
    return event


def _group_batches(batches, rows_per_chunk):
    """Consecutive minibatch indices, grouped into chunks of at most
    ``rows_per_chunk`` rows (a single minibatch when it is larger)."""
    chunk, chunk_rows = [], 0
    for index in batches:
        if chunk and chunk_rows + len(index) > rows_per_chunk:
            yield chunk
            chunk, chunk_rows = [], 0
        chunk.append(index)
        chunk_rows += len(index)
    if chunk:
        yield chunk


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
    return torch.tensor_split(perm, n_minibatches(n_samples, batch_size))


def n_minibatches(n_samples, batch_size):
    """Minibatches per epoch of :func:`minibatch_indices`."""
    return max(1, n_samples // batch_size)


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
