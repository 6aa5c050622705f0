"""Write the shipped example study (examples/dicom): three synthetic CT slices of one patient, every
element of the aryanto50 minimum planted, built by `deidlang.phantom`. Rerun to regenerate."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydicom.filewriter import dcmwrite  # noqa: E402

from deidlang.phantom import phantom  # noqa: E402


def main() -> None:
    out = ROOT / "examples" / "dicom" / "study1"
    out.mkdir(parents=True, exist_ok=True)
    for n in (1, 2, 3):
        ds, _ = phantom(instance=n, size=32)
        dcmwrite(out / f"ct{n}.dcm", ds, enforce_file_format=True)


if __name__ == "__main__":
    main()
