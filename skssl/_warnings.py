"""Warnings attributed to the user's line, not to the library's frames."""

import os
import sys
import warnings
from pathlib import Path

import joblib
import sklearn

# Frames in these folders are skipped: skssl's own, and the wrappers between
# the caller and skssl: scikit-learn's (``_fit_context``, ``Pipeline``,
# ``fit_transform``) and joblib's (``Pipeline`` fits its inner steps through
# ``joblib.Memory``).
_LIBRARY_DIRS = tuple(
    str(Path(module.__file__).resolve().parent) + os.sep
    for module in (sys.modules[__package__], sklearn, joblib)
)


def warn_at_caller(message, category):
    """``warnings.warn`` for the first frame outside skssl and scikit-learn."""
    # stacklevel 2 is the frame that called this function.
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and str(
        Path(frame.f_code.co_filename).resolve()
    ).startswith(_LIBRARY_DIRS):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
