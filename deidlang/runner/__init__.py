"""Layer 6: files and folders in, de-identified files out.

Outputs are named from de-identified values, ``OUT/<StudyInstanceUID>/<SeriesInstanceUID>/
<SOPInstanceUID>.dcm`` as written (``layout="uid"``), so nothing of an input's path (folders named
after patients) reaches the delivered folder; ``layout="mirror"`` mirrors the input folders instead,
at that risk, for those who ask. The run's state (journal, lock) lives in a state folder outside the
delivered one, which holds de-identified DICOM only.

Before anything is written, the output, state and quarantine folders are checked against every
input (after resolving links): no output can land on or inside an input. Each output is written
complete under a temporary name, then linked to its final name; no link in the output tree is ever
followed (`fileio.OutputTree`). A file that cannot be read, is rejected or fails is reported with
its path and a reason in words, and nothing is written for it; only regular files are read (FIFOs,
devices and sockets are skipped with a reason). Reasons never contain DICOM values.

The modules, each importing only those before it:
`reasons` (failures in words, pydicom kept quiet), `reading` (bytes to a dataset, bounded),
`sitekey` (the key and when one is needed), `inputs` (discovery, inputs kept apart from outputs),
`outputs` (where an output goes, by layout), `onefile` (one file through an engine to its place),
`preview` (a dry run of one file), `quarantine`, `state` (the state folder: lock, resume),
`batch` (`run`: many files, on one process, a pool, or Dask through `deidlang.cluster`).
"""

from .batch import Summary, run
from .inputs import discover, mirrored, plan_outputs
from .onefile import FileResult, deidentify_file, process
from .outputs import LAYOUTS, Target, uid_path
from .preview import Preview, preview
from .quarantine import quarantine_dataset
from .reading import read_dataset
from .reasons import os_reason, quiet_pydicom, reason_for
from .sitekey import KEY_ENV, load_key, require_site_key
from .state import FINISHED, state_folder

__all__ = ["FINISHED", "KEY_ENV", "LAYOUTS", "FileResult", "Preview", "Summary", "Target", "deidentify_file",
           "discover", "load_key", "mirrored", "os_reason", "plan_outputs", "preview", "process",
           "quarantine_dataset", "quiet_pydicom", "read_dataset", "reason_for", "require_site_key", "run",
           "state_folder", "uid_path"]
