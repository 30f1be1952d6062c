"""The training objective: loss terms, the contrastive variants, the ELBO."""

# The loss terms training records per epoch, in the order the objective
# returns them: the weighted total, then each branch's term. Curves, fitted
# attributes, the benchmark's records and its plots all read this list.
LOSS_TERMS = ("loss", "contrastive", "reconstruction", "kl")


def curve_attribute(term):
    """The fitted attribute holding the per-epoch curve of loss term ``term``.

    >>> [curve_attribute(term) for term in ("loss", "kl", "validation")]
    ['loss_curve_', 'kl_loss_curve_', 'validation_loss_curve_']
    """
    return "loss_curve_" if term == "loss" else f"{term}_loss_curve_"
