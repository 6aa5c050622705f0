"""Doctest collection (``--doctest-modules`` over ``deidlang/``) skips the compiled modules: where the
compiled walker is built, importing them gives the extension, not the file pytest collected. They
hold no doctests (`tests/test_walker.py` checks that); their tests are in ``tests/``."""

from deidlang import _walker

collect_ignore = [str(_walker.source_of(name)) for name in _walker.COMPILED]
