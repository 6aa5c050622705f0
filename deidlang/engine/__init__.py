"""Layer 5: apply a plan to a `pydicom.Dataset` in one pass. No file system here."""

from .dataset import Engine, Outcome, engine_for

__all__ = ["Engine", "Outcome", "engine_for"]
