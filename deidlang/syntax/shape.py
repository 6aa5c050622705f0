"""Conditions made shallow before anything recurses over them: deep nesting is a located error,
never a RecursionError."""

from __future__ import annotations

from lark import Tree
from lark.tree import Meta

from ..errors import DeidSyntaxError, Span

#: Chains of `or` / `and` longer than this are rebuilt balanced (shorter ones keep the shape, and the
#: plan hash, they always had); conditions nested deeper than `MAX_NESTING` are refused.
_CHAIN = 16
MAX_NESTING = 64
_LOGIC = frozenset({"or_", "and_", "not_"})


def shape(tree: Tree, source: str) -> None:
    """Make every condition shallow before anything recurses over it, without changing what it
    means: ``not not x`` is ``x``, a long chain of one operator is balanced (both are associative);
    what is still nested too deep is a located error. Works on lark's tree, iteratively."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.data == "not_":
            while _is(node.children[0], "not_") and isinstance(node.children[0].children[0], Tree):
                inner = node.children[0].children[0]
                node.data, node.children = inner.data, inner.children
                if node.data != "not_":
                    break
        if node.data in ("or_", "and_"):
            operands, todo = [], [node]
            while todo:
                item = todo.pop()
                if item is node or _is(item, node.data):
                    todo.extend(reversed(item.children))
                else:
                    operands.append(item)
            if len(operands) > _CHAIN:
                node.children = _balanced(node.data, operands).children
            stack.extend(c for c in operands if isinstance(c, Tree))  # the chain's own nodes are done
            continue
        stack.extend(c for c in node.children if isinstance(c, Tree))
    depths = [(tree, 0)]
    while depths:
        node, depth = depths.pop()
        if node.data in _LOGIC:
            depth += 1
            if depth > MAX_NESTING:
                meta = node.meta
                span = Span(source, meta.start_pos, meta.end_pos, meta.line, meta.column, meta.end_line,
                            meta.end_column)
                raise DeidSyntaxError(f"this condition nests `and`, `or` and `not` more than {MAX_NESTING} levels "
                                      "deep", span, "split it into several rules, or flatten it")
        depths.extend((c, depth) for c in node.children if isinstance(c, Tree))


def _is(node, data: str) -> bool:
    return isinstance(node, Tree) and node.data == data


def _balanced(data: str, operands: list) -> Tree:
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    left, right = _balanced(data, operands[:middle]), _balanced(data, operands[middle:])
    meta = Meta()
    first, last = left.meta, right.meta
    meta.empty = False
    meta.line, meta.column, meta.start_pos = first.line, first.column, first.start_pos
    meta.end_line, meta.end_column, meta.end_pos = last.end_line, last.end_column, last.end_pos
    return Tree(data, [left, right], meta)

