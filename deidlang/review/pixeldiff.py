"""Pixel rules compared region by region, for `diff`: which pixels one plan covers and the other does
not, at one representative dataset."""

from __future__ import annotations

import numpy as np

from ..explain import condition_text
from ..plan import Plan


def distinct(where: np.ndarray, masks: list[np.ndarray]) -> list[int]:
    """One point of each distinct combination of the masks, among ``where``."""
    if not where.any():
        return []
    stacked = np.stack(masks, axis=1)[where] if masks else np.zeros((int(where.sum()), 1), bool)
    _, first = np.unique(stacked, axis=0, return_index=True)
    return [int(i) for i in np.flatnonzero(where)[sorted(first)]]


def compare_regions(old: list, new: list) -> tuple[set[int | str], tuple[int, int] | None]:
    """How the pixel rules active at one dataset compare (1 new exposes more, -1 less, both, 0 the
    same, 'changed'), and a pixel the old ones cover and the new ones do not."""
    old_regions = {r for rule in old for r in rule.regions}
    new_regions = {r for rule in new for r in rule.regions}
    lost = _uncovered(old_regions, new_regions)
    gained = _uncovered(new_regions, old_regions)
    more = bool(lost) or (bool(old) and not new) or (any(r.complete for r in new) and not any(r.complete for r in old))
    less = bool(gained) or (bool(new) and not old) or (any(r.complete for r in old) and not any(r.complete for r in new))
    found = ({1} if more else set()) | ({-1} if less else set())
    if not found:
        found = {0 if old_regions == new_regions else "changed"}
    return found, lost


def _uncovered(covered: set, cover: set) -> tuple[int, int] | None:
    """A pixel of ``covered`` outside every region of ``cover``, if any."""
    if not covered:
        return None
    width = max(x + w for x, y, w, h in covered | cover)
    height = max(y + h for x, y, w, h in covered | cover)
    grid = np.zeros((min(height, 8192), min(width, 8192)), np.int8)
    for x, y, w, h in covered:
        grid[max(y, 0):y + h, max(x, 0):x + w] = 1
    for x, y, w, h in cover:
        grid[max(y, 0):y + h, max(x, 0):x + w] = 0
    found = np.argwhere(grid == 1)
    return (int(found[0][1]), int(found[0][0])) if len(found) else None


def image_size(*rule_lists) -> tuple[int, int]:
    """Rows and columns of an image that holds every region of the rules, with a margin (for a witness)."""
    regions = [r for rules in rule_lists for rule in rules for r in rule.regions]
    return (max([y + h for x, y, w, h in regions], default=16) + 8, max([x + w for x, y, w, h in regions], default=16) + 8)


def rules_text(plan: Plan, rules: list) -> str:
    """Pixel rules of one kind as a reviewer reads them: regions, `complete`, conditions."""
    parts = []
    for rule in rules:
        regions = ", ".join(",".join(map(str, r)) for r in rule.regions)
        text = (regions or "present") + (" complete" if rule.complete else "")
        if rule.condition is not None:
            text += f" if {condition_text(plan.conditions[rule.condition])}"
        parts.append(text)
    return "; ".join(parts) or "none"
