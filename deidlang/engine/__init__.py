"""Layer 5: apply a plan to a `pydicom.Dataset` in one pass. No file system here."""

from .dataset import Engine, Outcome, engine_for
from .keys import Key

__all__ = ["Engine", "Key", "Outcome", "engine_for"]
