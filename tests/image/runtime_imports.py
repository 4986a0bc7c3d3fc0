"""Import every module of footfall_worker and footfall_operator with only the image's distributions.

Run by tests/image/test_image_environment.py in a fresh interpreter of the project venv. The image installs the
project with no extras (`pip install .`), so it holds the closure of pyproject's `dependencies` plus the venv's
own pip and setuptools; every other installed distribution (the test and eval extras and what they pulled in) is
made unimportable here. Prints `MODULE ERROR` for each module that fails to import; exit 0 unless this script
itself breaks.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.metadata as metadata
import pkgutil
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
VENV_SEEDS = ["pip", "setuptools"]  # `python -m venv` puts them in the image's venv too


def closure(requirements: list[str]) -> set[str]:
    """Canonical names of the installed distributions these requirements bring in (extras and markers honoured)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # a marker-excluded or optional requirement not installed here
        names.add(key[0])
        for spec in dist.requires or []:
            sub = Requirement(spec)
            wanted = sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in (requirement.extras or {""})
            )
            if wanted:
                todo.append(sub)
    return names


class Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, blocked: dict[str, str]) -> None:
        self.blocked = blocked

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
        top = fullname.partition(".")[0]
        if top in self.blocked:
            raise ModuleNotFoundError(f"{top} (from {self.blocked[top]}) is not in the image", name=fullname)
        return None


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    allowed = closure(project["dependencies"] + VENV_SEEDS) | {canonicalize_name(project["name"])}
    blocked: dict[str, str] = {}
    for module, dists in metadata.packages_distributions().items():
        if module.startswith(("footfall_", "_distutils_hack", "__editable__")):
            continue
        if not any(canonicalize_name(d) in allowed for d in dists):
            blocked[module] = ", ".join(dists)
    assert "pytest" in blocked and "onnxruntime" in blocked, "the test extra should be blocked"
    for module in list(sys.modules):
        if module.partition(".")[0] in blocked:
            del sys.modules[module]
    sys.meta_path.insert(0, Blocker(blocked))
    for package in ("footfall_worker", "footfall_operator"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            try:
                importlib.import_module(info.name)
            except Exception as error:  # noqa: BLE001 - report every failure, keep going
                print(info.name, f"{type(error).__name__}: {error}".replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
