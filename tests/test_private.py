"""Private blocks (engine/private.py, one implementation for both engines): which creator an element is
decided by, and that a creator is written exactly when an element of its block is; both engines, same
bytes."""

from __future__ import annotations

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import deidlang
from deidlang.engine.private import Blocks
from deidlang.phantom import phantom
from deidlang.runner import deidentify_file

from .conftest import KEY

RULES = '''include "basic-profile"
keep "ACME 1.0" 0009,xx01
keep "ACME 1.0" 0011,xx03
'''


def _dataset() -> Dataset:
    ds, _ = phantom()
    for tag in [t for t in ds.keys() if t >> 16 & 1]:
        del ds[tag]  # the phantom's own private blocks: out of the way
    acme = ds.private_block(0x0009, "ACME 1.0", create=True)  # (0009,0010)
    acme.add_new(0x01, "LO", "KEPT-ACME-0009")
    acme.add_new(0x02, "LO", "QZXPRIVATE-REMOVED")
    other = ds.private_block(0x0009, "OTHER 2.0", create=True)  # (0009,0011): nothing of it kept
    other.add_new(0x01, "LO", "QZXOTHER")
    ds.add_new(0x00091201, "LO", "QZXNOCREATOR")  # block 12 has no creator: private without creator
    item = Dataset()  # the same creator at another slot, inside a sequence item
    block = item.private_block(0x0011, "ACME 1.0", create=True)
    block.add_new(0x03, "LO", "KEPT-ACME-0011")
    block.add_new(0x04, "LO", "QZXNESTED")
    ds.ReferencedSeriesSequence = Sequence([item])
    return ds


def test_private_blocks_are_decided_and_written_alike_by_both_engines(tmp_path):
    source = tmp_path / "in.dcm"
    _dataset().save_as(source, enforce_file_format=True)
    plan = deidlang.compile(RULES)
    results = [deidentify_file(source, tmp_path / f"{e}.dcm", plan, KEY, engine=e) for e in ("auto", "reference")]
    assert [r.status for r in results] == ["written"] * 2, [r.reason for r in results]
    assert results[0].engine == "fast"
    fast, reference = ((tmp_path / f"{e}.dcm").read_bytes() for e in ("auto", "reference"))
    assert fast == reference
    assert b"QZX" not in fast
    out = dcmread(tmp_path / "auto.dcm")
    assert out[0x00090010].value == "ACME 1.0" and out[0x00091001].value == "KEPT-ACME-0009"
    assert 0x00090011 not in out and 0x00091201 not in out  # the creator of a block with nothing kept: gone
    nested = out.ReferencedSeriesSequence[0]
    assert nested[0x00110010].value == "ACME 1.0" and nested[0x00111003].value == "KEPT-ACME-0011"
    assert 0x00111004 not in nested


def test_blocks_name_the_creator_and_write_only_kept_blocks_creators():
    notes: list[str] = []
    blocks = Blocks([(0x00090010, "a", "ACME 1.0"), (0x00090011, "b", "OTHER"), (0x00090012, "c", None)], notes)
    assert notes == ["(0009,0012): private creator could not be decoded: block removed"]
    assert [blocks.creator(t) for t in (0x00091001, 0x00091101, 0x00091201, 0x00100010)] == ["ACME 1.0", "OTHER",
                                                                                              None, None]
    blocks.keep(0x00091101)
    blocks.keep(0x00100010)  # public: no block
    blocks.keep(0x00091201)  # a block whose creator could not be read: no creator to write
    assert blocks.kept_creators() == ["b"]
