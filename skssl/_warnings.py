"""Warnings attributed to the user's line, not to the library's frames."""

import os
import sys
import warnings
from pathlib import Path

import sklearn

# Frames in these folders are skipped: skssl's own, and scikit-learn's
# wrappers (``_fit_context``, ``Pipeline``, ``fit_transform``) between the
# caller and skssl.
_LIBRARY_DIRS = tuple(
    str(Path(module.__file__).resolve().parent) + os.sep
    for module in (sys.modules[__package__], sklearn)
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
