"""Representation diagnostics during training, and the collapse warning."""

import torch

from . import metrics
from ._warnings import warn_at_caller

# Training rows on which representation diagnostics are computed.
DIAGNOSTIC_ROWS = 1024
# Uniformity (t=2) above this: the normalised embeddings sit in a narrow cone
# (mean squared pairwise distance about 0.25, angles around 30 degrees), the
# trivial minimiser of InfoNCE when views carry no information on the row.
UNIFORMITY_COLLAPSE = -0.5


class RepresentationCollapseWarning(UserWarning):
    """The learned embeddings span far fewer dimensions than available."""


def empty_representation_history():
    return {"alignment": [], "uniformity": [], "effective_rank": []}


class RepresentationMonitor:
    """Alignment, uniformity and effective rank of the posterior means.

    Computed on a fixed subset of training rows, with fixed augmentations,
    so that successive epochs are comparable (Wang & Isola 2020,
    arXiv 2005.10242; effective rank of Roy & Vetterli 2007).
    """

    def __init__(self, pool, objective, seed, history=None):
        generator = torch.Generator(device=pool.numeric.device).manual_seed(seed)
        n = min(DIAGNOSTIC_ROWS, pool.n_samples)
        rows = torch.randperm(
            pool.n_samples, generator=generator, device=pool.numeric.device
        )
        self.clean = pool.rows(rows[:n])
        self.views = [objective.augment(self.clean, pool, generator) for _ in range(2)]
        self.history = empty_representation_history() if history is None else history

    @torch.no_grad()
    def embed(self, model, batch):
        return model.encoder.posterior_mean(
            batch.numeric, batch.observed, batch.categorical
        )

    def __call__(self, model):
        clean = self.embed(model, self.clean)
        views = [self.embed(model, view) for view in self.views]
        self.history["alignment"].append(metrics.alignment(*views))
        self.history["uniformity"].append(metrics.uniformity(clean))
        self.history["effective_rank"].append(metrics.effective_rank(clean))

    def collapse_report(self, model):
        """:func:`skssl.metrics.collapse_report` of the final posterior means.

        Warns with :class:`RepresentationCollapseWarning` when the
        representation has collapsed.
        """
        final = self.embed(model, self.clean)
        latent_dim = model.encoder.latent_dim
        n_inputs = model.encoder.input_layer.n_outputs
        report = metrics.collapse_report(final, min(latent_dim, n_inputs))
        if report["collapsed"] or report["uniformity"] > UNIFORMITY_COLLAPSE:
            warn_at_caller(
                f"The learned representation has collapsed: effective rank "
                f"{report['effective_rank']:.2f} of {latent_dim} latent dimensions, "
                f"relative variance {report['relative_variance']:.2g}, uniformity "
                f"{report['uniformity']:.2f} (0 means all rows embed alike). Raise "
                "temperature, lower corruption_rate or learning_rate.",
                RepresentationCollapseWarning,
            )
        return report
