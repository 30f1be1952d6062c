"""
Training curves: the loss and its terms per epoch
=================================================

``fit`` records the total loss and each of its terms after every epoch:
``loss_curve_``, ``contrastive_loss_curve_`` (InfoNCE between two SCARF views),
``reconstruction_loss_curve_`` and ``kl_loss_curve_`` (the VAE's negative
ELBO, in nats per row), and with ``early_stopping=True`` the loss on the held-out
rows, ``validation_loss_curve_``. Training stops when the monitored loss has not
improved by ``tol`` for ``n_iter_no_change`` epochs, and with early stopping the
weights of the best validation epoch are restored.

Here a transformer trains on the digits data (1,797 rows, 64 pixel columns),
holding out 10 % of the rows for validation.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from skssl import ContrastiveVAETransformer

X, _ = load_digits(return_X_y=True)
model = ContrastiveVAETransformer(early_stopping=True, random_state=0).fit(X)
print(
    f"{model.n_iter_} of at most {model.max_epochs_} epochs in {model.fit_time_:.1f} s;"
    f" best validation loss {model.best_loss_:.3f}"
)

# %%
# The total loss is ``contrastive_weight * contrastive + vae_weight *
# (reconstruction + kl_weight * kl) / n_columns``; the terms are on different
# scales, so each gets its own panel. The KL term rises while the posterior
# moves away from the prior: the usual trade of a beta-VAE.

curves = {
    "total loss": model.loss_curve_,
    "contrastive (InfoNCE)": model.contrastive_loss_curve_,
    "reconstruction (nats per row)": model.reconstruction_loss_curve_,
    "KL (nats per row)": model.kl_loss_curve_,
}
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
for ax, (title, values) in zip(axes, curves.items()):
    ax.plot(range(1, len(values) + 1), values, label="training")
    ax.set_title(title)
    ax.set_xlabel("epoch")
axes[0].plot(
    range(1, len(model.validation_loss_curve_) + 1),
    model.validation_loss_curve_,
    label="validation",
)
axes[0].legend()
fig.tight_layout()
plt.show()
