"""The one exception of the domain language model package."""

from __future__ import annotations

from stt import SttError


class LmError(SttError):
    """A model file, text set or output folder for the domain language model is unusable.

    The message names the file or folder and what is wrong with it.
    """
