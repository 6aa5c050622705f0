"""Write the shipped examples, built by `deidlang.phantom`; rerun to regenerate:
- examples/dicom: three synthetic CT slices of one patient, every element of the aryanto50 minimum planted;
- examples/ultrasound/us-banner.dcm: a 320x240 ultrasound-like frame with a burned-in banner (rule tests);
- examples/pixels-before.png and pixels-after.png: an ultrasound-like frame with a burned-in banner,
  before and after `blackout 0,0,4096,48 if Modality == "US"` (the README's picture)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from pydicom.filewriter import dcmwrite  # noqa: E402

import deidlang  # noqa: E402
from deidlang.phantom import phantom, ultrasound_frame  # noqa: E402

PICTURE_RULES = 'require minimum none because "picture"\nblackout 0,0,4096,48 complete if Modality == "US"'



def main() -> None:
    out = ROOT / "examples" / "dicom" / "study1"
    out.mkdir(parents=True, exist_ok=True)
    for n in (1, 2, 3):
        ds, _ = phantom(instance=n, size=32)
        dcmwrite(out / f"ct{n}.dcm", ds, enforce_file_format=True)
    ds, _ = phantom(size=16)
    ds.Modality = "US"
    ds.set_pixel_data(ultrasound_frame("DOE^JANE  ID 4711  1947-03-17  ST MARY", rows=480, cols=640),
                      "MONOCHROME2", 8, generate_instance_uid=False)
    after = deidlang.apply(deidlang.compile(PICTURE_RULES), ds, key=b"picture-key-0123456789").dataset
    small, _ = phantom(size=16)
    small.Modality = "US"
    small.set_pixel_data(ultrasound_frame("DOE^JANE 4711", rows=240, cols=320), "MONOCHROME2", 8,
                         generate_instance_uid=False)
    (ROOT / "examples" / "ultrasound").mkdir(exist_ok=True)
    dcmwrite(ROOT / "examples" / "ultrasound" / "us-banner.dcm", small, enforce_file_format=True)
    Image.fromarray(ds.pixel_array).save(ROOT / "examples" / "pixels-before.png", optimize=True)
    Image.fromarray(after.pixel_array).save(ROOT / "examples" / "pixels-after.png", optimize=True)


if __name__ == "__main__":
    main()
