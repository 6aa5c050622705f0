"""Conditions made shallow before anything recurses over them: deep nesting is a located error,
never a RecursionError. Everything here walks with its own stack, whatever the depth."""

from __future__ import annotations

from dataclasses import replace

from .. import ast
from ..errors import DeidSyntaxError, Span

#: Chains of `or` / `and` longer than this are rebuilt balanced (shorter ones keep the shape, and the
#: plan hash, they always had); conditions nested deeper than `MAX_NESTING` are refused.
_CHAIN = 16
MAX_NESTING = 64
_LOGIC = (ast.Or, ast.And, ast.Not)


def shaped(root):
    """``root`` without changing what it means: ``not not x`` is ``x`` (spanning the whole), a chain
    of one operator longer than `_CHAIN` is balanced (both are associative). A leaf comes back as it is."""
    if not isinstance(root, _LOGIC):
        return root
    done: dict[int, object] = {}  # id of a node as written -> the node shaped
    stack = [(root, False)]
    plans: dict[int, tuple] = {}
    while stack:
        node, expanded = stack.pop()
        if expanded:
            done[id(node)] = _rebuild(plans.pop(id(node)), done)
            continue
        if not isinstance(node, _LOGIC):
            done[id(node)] = node
            continue
        plan = _plan(node)
        plans[id(node)] = plan
        stack.append((node, True))
        stack.extend((child, False) for child in plan[2])
    return done[id(root)]


def _plan(node) -> tuple:
    """(how to rebuild, the node, its operands to shape first) for a node of `_LOGIC`."""
    if isinstance(node, ast.Not):
        while isinstance(node, ast.Not) and isinstance(node.operand, ast.Not):
            node = replace(node.operand.operand, span=node.span)
    if isinstance(node, (ast.Or, ast.And)):
        kind, operands, todo = type(node), [], [node]
        while todo:
            item = todo.pop()
            if item is node or isinstance(item, kind):
                todo += (item.right, item.left)
            else:
                operands.append(item)
        return ("balance" if len(operands) > _CHAIN else "chain", node, operands)
    if isinstance(node, ast.Not):
        return ("not", node, [node.operand])
    return ("leaf", node, [])


def _rebuild(plan: tuple, done: dict[int, object]):
    how, node, operands = plan
    shaped_operands = [done.pop(id(o)) for o in operands]
    if how == "leaf":
        return node
    if how == "not":
        return node if shaped_operands[0] is operands[0] else ast.Not(node.span, shaped_operands[0])
    if how == "balance":
        top = _balanced(type(node), shaped_operands)
        return type(node)(node.span, top.left, top.right)
    if all(a is b for a, b in zip(shaped_operands, operands)):
        return node
    return _substituted(node, type(node), iter(shaped_operands))


def _substituted(node, kind, operands):
    """The chain as written, its operands replaced in order (a chain is at most `_CHAIN` deep)."""
    left = _substituted(node.left, kind, operands) if isinstance(node.left, kind) else next(operands)
    right = _substituted(node.right, kind, operands) if isinstance(node.right, kind) else next(operands)
    return kind(node.span, left, right)


def _balanced(kind, operands: list):
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    left, right = _balanced(kind, operands[:middle]), _balanced(kind, operands[middle:])
    first, last = left.span, right.span
    return kind(Span(first.source, first.start, last.end, first.line, first.col, last.end_line, last.end_col),
                left, right)


def too_deep(root) -> DeidSyntaxError | None:
    """The error for the first node nested more than `MAX_NESTING` levels deep, walking from the
    right (as the error has always been chosen), or None."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _LOGIC):
            depth += 1
            if depth > MAX_NESTING:
                return DeidSyntaxError(f"this condition nests `and`, `or` and `not` more than {MAX_NESTING} "
                                       "levels deep", node.span, "split it into several rules, or flatten it")
            if isinstance(node, ast.Not):
                stack.append((node.operand, depth))
            else:
                stack += ((node.left, depth), (node.right, depth))
    return None
