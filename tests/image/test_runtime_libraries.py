"""The images install nothing from Debian: every shared library the installed wheels load is bundled in the
wheels or is one of the few the python:3.11-slim-bookworm base already has (glibc, libstdc++, libgcc_s, zlib,
libpython). Checked on the venvs the tests use, which hold the same distributions as the images: the project
venv's closure of pyproject's `dependencies` (footfall), the Triton venv from hack/requirements-triton.txt
(triton-cpu). A new dependency that needs libGL, libgomp or the like fails here, not in a cluster."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tests.image.dockerfile import Stage
from tests.image.elf import dynamic, is_elf
from tests.image.runtime_imports import VENV_SEEDS, closure
from tests.support.paths import REPO_ROOT

GLIBC = {
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libresolv.so.2",
    "libutil.so.1",
}
# libstdc++6, libgcc-s1 and zlib1g are in every Debian bookworm image (apt and dpkg need them).
BASE = GLIBC | {"libstdc++.so.6", "libgcc_s.so.1", "libz.so.1"}
# Loaded only when a program asks for that device, never by the CPU image.
NEVER_LOADED = {("libOpenCL.so.1", "libopenvino_intel_gpu_plugin.so")}


def unresolved(files: list[Path], also_present: set[str]) -> dict[str, list[str]]:
    """NEEDED names that neither these files nor `also_present` provide: {library: [who needs it]}."""
    provided: set[str] = set()
    needs: dict[str, list[str]] = {}
    for path in files:
        if not is_elf(path):
            continue
        needed, soname = dynamic(path)
        provided.add(path.name)
        if soname:
            provided.add(soname)
        for library in needed:
            if (library, path.name) not in NEVER_LOADED:
                needs.setdefault(library, []).append(str(path))
    return {lib: who for lib, who in needs.items() if lib not in provided and lib not in also_present}


def base_python(stages: list[Stage]) -> str:
    match = re.fullmatch(r"python:(\d+\.\d+)-slim-bookworm", stages[0].base)
    assert match, stages[0].base
    return match.group(1)


def test_worker_image_libraries_are_bundled_or_in_the_base(pyproject: dict[str, Any]) -> None:
    names = closure(pyproject["project"]["dependencies"] + VENV_SEEDS)
    files = [
        Path(str(dist.locate_file(file)))
        for dist in metadata.distributions()
        if dist.metadata["Name"] and canonicalize_name(dist.metadata["Name"]) in names
        for file in dist.files or []
    ]
    assert any(path.name.startswith("cv2") for path in files), "opencv-python-headless not found in this venv"
    missing = unresolved([path for path in files if path.is_file()], BASE)
    assert not missing, f"the footfall image would need libraries from Debian: {missing}"


def test_triton_image_libraries_are_bundled_or_in_the_base(stages: list[Stage]) -> None:
    # hack/lib.sh: FOOTFALL_CACHE=${FOOTFALL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footfall}
    xdg_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = Path(os.environ.get("FOOTFALL_CACHE") or xdg_cache / "footfall") / "triton-venv"
    requirements = (REPO_ROOT / "hack" / "requirements-triton.txt").read_text(encoding="utf-8")
    stamp = venv / ".footfall-requirements"
    assert stamp.exists() and stamp.read_text(encoding="utf-8") == requirements.rstrip("\n"), (
        f"{venv} is missing or older than hack/requirements-triton.txt: run `make triton-install`"
    )
    version = base_python(stages)
    site = venv / "lib" / f"python{version}" / "site-packages"
    stubs = site / "pytriton" / "tritonserver" / "python_backend_stubs"
    files = [
        path
        for path in site.rglob("*")
        if path.is_file() and not (path.is_relative_to(stubs) and not path.is_relative_to(stubs / version))
    ]
    assert (stubs / version / "triton_python_backend_stub").is_file()
    missing = unresolved(files, BASE | {f"libpython{version}.so.1.0"})
    assert not missing, f"the triton-cpu image would need libraries from Debian: {missing}"
