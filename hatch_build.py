"""Build hook: compile the fast path's hot modules with Cython, where a C compiler exists.

The modules named by `deidlang._walker.COMPILED` are compiled from their own ``.py`` files (pure
Python mode; C types for their locals and attributes come from the ``.pxd`` file beside each, which
the pure module never reads). A wheel carries the extensions beside the sources; an editable install
builds them in place. Without a compiler (or with ``DEIDLANG_PURE=1`` at build time) the build warns
and the package is pure Python; `deidlang --version` says which walker runs.

In a checkout, ``python hatch_build.py`` builds the extensions in place (and ``--clean`` removes
them), for running from the source tree without installing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
#: Cython directives: annotations are documentation, not C types (a value annotated ``bytes`` may
#: be an mmap); the .pxd files carry the C types.
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True, "embedsignature": False}


def _walker(root: Path):
    """deidlang/_walker.py, loaded by path (it imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("_deidlang_walker", root / "deidlang" / "_walker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(root: Path, inplace: bool, out: Path | None = None) -> dict[str, Path]:
    """Compile the modules; their extensions, by module name (in the source tree when ``inplace``,
    else under ``out``), and the manifest of the sources they were built from. Raises when Cython
    or the C compiler is missing or fails."""
    from Cython import __version__ as cython_version
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    walker = _walker(root)
    sources = {name: Path(*name.split(".")).with_suffix(".py") for name in walker.COMPILED}
    cwd = os.getcwd()
    os.chdir(root)  # setuptools places in-place extensions relative to the working folder
    try:
        extensions = cythonize([Extension(name, [str(path)]) for name, path in sources.items()],
                               build_dir=str(Path("build") / "cython"), compiler_directives=DIRECTIVES, quiet=True)
        dist = Distribution({"name": "deidlang", "ext_modules": extensions, "script_name": "hatch_build.py"})
        command = dist.get_command_obj("build_ext")
        command.inplace = inplace
        command.parallel = os.cpu_count() or 1
        command.build_temp = str(Path("build") / "temp")
        if out is not None:
            command.build_lib = str(out)
        command.ensure_finalized()
        command.run()
        built = {name: Path(command.get_ext_fullpath(name)).resolve() for name in sources}
    finally:
        os.chdir(cwd)
    manifest = {"cython": cython_version, "sources": {name: walker.sha256_of(root / path) for name, path in sources.items()}}
    target = (root if inplace else out) / "deidlang" / walker.MANIFEST
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    built[walker.MANIFEST] = target
    return built


def clean(root: Path) -> None:
    """Remove in-place extensions and the manifest (the pure sources then run)."""
    walker = _walker(root)
    for name in walker.COMPILED:
        for found in (root / Path(*name.split("."))).parent.glob(name.rsplit(".", 1)[1] + ".*.so"):
            found.unlink()
    (root / "deidlang" / walker.MANIFEST).unlink(missing_ok=True)


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if _walker(root).forced_pure():
            self.app.display_warning("DEIDLANG_PURE is set: building the pure-Python walker only")
            return
        self._out = Path(tempfile.mkdtemp(prefix="deidlang-walker-"))
        inplace = version == "editable"
        try:
            built = build(root, inplace, None if inplace else self._out)
        except Exception as err:  # no compiler, no Cython: the pure walker is the fallback
            self.app.display_warning(f"the compiled walker was not built ({type(err).__name__}: {err}); "
                                     "deidlang runs its pure-Python walker")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not inplace:  # an editable install finds them in the source tree
            for name, path in built.items():
                relative = path.relative_to(self._out).as_posix()
                build_data["force_include"][str(path)] = relative

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        out = getattr(self, "_out", None)
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    if "--clean" in sys.argv[1:]:
        clean(ROOT)
    else:
        for name, path in build(ROOT, inplace=True).items():
            print(f"{name}: {path.relative_to(ROOT)}")
