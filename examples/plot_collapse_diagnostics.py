"""
Collapse diagnostics: a healthy and a collapsing representation
===============================================================

A contrastive loss has a trivial minimiser: embed every row alike. SCARF views
keep it away because each view still carries most of its row's columns. Here
two transformers train on the breast-cancer data with
``monitor_representation=True``, which records alignment, uniformity and
effective rank (:mod:`skssl.metrics`) after every epoch. Both use the
contrastive branch alone (``vae_weight=0``), so nothing else holds the
embeddings apart.

* **healthy**: the default augmentation (30 % of the columns replaced, a little
  noise);
* **collapsing**: every column replaced and no noise, so the two views of a
  row are two unrelated rows and carry no information about it, at a learning
  rate five times the default, which reaches the trivial minimiser within a
  few epochs.

The collapsing fit ends with a far lower effective rank and uniformity near 0
(every embedding in one narrow cone), and ``fit`` warns with
:class:`~skssl.RepresentationCollapseWarning`.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer

from skssl import ContrastiveVAETransformer, RepresentationCollapseWarning

X, _ = load_breast_cancer(return_X_y=True)
common = dict(vae_weight=0, monitor_representation=True, random_state=0)
settings = {
    "healthy": dict(),
    "collapsing": dict(corruption_rate=1.0, noise_scale=0.0, learning_rate=0.01),
}

models, collapse_warnings = {}, {}
for label, extra in settings.items():
    model = ContrastiveVAETransformer(**common, **extra)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RepresentationCollapseWarning)
        model.fit(X)
    models[label] = model
    collapse_warnings[label] = [
        str(w.message) for w in caught if w.category is RepresentationCollapseWarning
    ]
    print(
        f"{label}: {model.n_iter_} epochs, effective rank {model.effective_rank_:.1f}, "
        f"final uniformity {model.representation_history_['uniformity'][-1]:.2f}"
    )
    for message in collapse_warnings[label]:
        print(f"  RepresentationCollapseWarning: {message}")

# %%
# The three diagnostics per epoch. Alignment is the mean squared distance
# between the two views of a row (lower: more invariant), uniformity the log
# mean Gaussian potential between rows (lower: more spread out, 0 when all
# rows embed alike), effective rank the number of dimensions the centred
# embeddings use.

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for label, model in models.items():
    for ax, (name, values) in zip(axes, model.representation_history_.items()):
        ax.plot(range(1, len(values) + 1), values, label=label)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
axes[0].legend()
fig.tight_layout()
plt.show()
