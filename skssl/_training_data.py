"""Device-resident tensors for an encoded table, and minibatches drawn by index."""

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """Rows of an encoded table as tensors on one device.

    ``numeric`` is float (standardised, 0 where missing), ``observed`` is bool
    (False where the numeric entry was missing), ``categorical`` is int64 codes.
    """

    numeric: torch.Tensor
    observed: torch.Tensor
    categorical: torch.Tensor

    @property
    def n_samples(self):
        return self.numeric.shape[0]

    def rows(self, index):
        return Batch(self.numeric[index], self.observed[index], self.categorical[index])


class TrainingData(Batch):
    """A whole encoded table moved to the device once."""

    @classmethod
    def from_encoded(cls, encoded, device, dtype=torch.float32):
        return cls(
            numeric=torch.as_tensor(encoded.numeric, dtype=dtype).to(device),
            observed=torch.as_tensor(encoded.observed).to(device),
            categorical=torch.as_tensor(encoded.categorical).to(device),
        )


def minibatch_indices(n_samples, batch_size, generator, device):
    """Shuffled row indices split into near-equal minibatches.

    Splitting into ``max(1, n // batch_size)`` parts rather than cutting a
    ragged last batch keeps every batch large enough to supply in-batch
    negatives for the contrastive loss.
    """
    perm = torch.randperm(n_samples, generator=generator, device=device)
    n_batches = max(1, n_samples // batch_size)
    return torch.tensor_split(perm, n_batches)
