"""Watch a contrastive representation collapse, and one that does not.

Trains two transformers on the breast-cancer data with
``monitor_representation=True`` and plots alignment, uniformity and effective
rank per epoch. The collapsing run corrupts every column (``corruption_rate=1``):
the two views then carry no information about their row, and InfoNCE's trivial
minimiser (every row embedded alike) wins. Writes ``collapse_diagnostics.png``.
Run: ``python examples/collapse_diagnostics.py``.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

from skssl import ContrastiveVAETransformer, RepresentationCollapseWarning  # noqa: E402

X, _ = load_breast_cancer(return_X_y=True)
common = dict(
    n_components=256,  # hidden layers (128, 128)
    latent_dim=32,
    max_epochs=60,
    vae_weight=0,
    temperature=1.0,
    monitor_representation=True,
    random_state=0,
)
runs = {
    "healthy (SCARF corruption 0.3)": ContrastiveVAETransformer(
        corruption_rate=0.3, **common
    ),
    "collapsing (every column corrupted)": ContrastiveVAETransformer(
        corruption_rate=1.0, noise_scale=0.0, **common
    ),
}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for label, model in runs.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RepresentationCollapseWarning)
        model.fit(X)
    collapsed = any(w.category is RepresentationCollapseWarning for w in caught)
    print(f"{label}: effective rank {model.effective_rank_:.1f}, warned: {collapsed}")
    for ax, (name, values) in zip(axes, model.representation_history_.items()):
        ax.plot(range(1, len(values) + 1), values, label=label)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
axes[0].legend(fontsize=8)
fig.tight_layout()
fig.savefig("collapse_diagnostics.png", dpi=110)
print("wrote collapse_diagnostics.png")
