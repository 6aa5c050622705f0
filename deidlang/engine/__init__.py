"""Layer 5: apply a plan to a `pydicom.Dataset` in one pass. No file system here."""

from .dataset import Decision, Engine, Outcome, engine_for
from .keys import Key

__all__ = ["Decision", "Engine", "Key", "Outcome", "engine_for"]
