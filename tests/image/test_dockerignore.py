"""The build context: everything the Dockerfile COPYs is in it, nothing else is (no .git, venvs, footage), and
the model repository goes into the Triton image whole, weights included, from the repository itself."""

from __future__ import annotations

import subprocess
from pathlib import PurePosixPath

import pytest

from tests.image.dockerfile import ContextFilter, Stage, stage_named
from tests.support.paths import REPO_ROOT


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [path for path in done.stdout.decode().split("\0") if path and (REPO_ROOT / path).exists()]


def context_sources(stages: list[Stage]) -> list[str]:
    """The context paths COPY reads (a COPY --from reads another stage, not the context)."""
    return [src for stage in stages for flags, sources, _ in stage.copies() if "from" not in flags for src in sources]


def under(path: str, directory: str) -> bool:
    return path == directory or PurePosixPath(path).is_relative_to(directory)


def test_every_copied_path_is_in_the_context(
    stages: list[Stage], context_filter: ContextFilter, tracked: list[str]
) -> None:
    for source in context_sources(stages):
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"
        assert not context_filter.excluded(source), f"COPY {source}: .dockerignore leaves it out"
        files = [path for path in tracked if under(path, source)]
        assert files, source
        left_out = [path for path in files if context_filter.excluded(path)]
        assert not left_out, f"COPY {source}: .dockerignore leaves out {left_out}"


def test_the_context_holds_only_what_is_copied(
    stages: list[Stage], context_filter: ContextFilter, tracked: list[str]
) -> None:
    sources = context_sources(stages)
    extra = [p for p in tracked if not context_filter.excluded(p) and not any(under(p, s) for s in sources)]
    assert not extra, f"in the build context but never copied: {extra}"


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        ".venv-bench/bin/python",
        "input/footage/intel/store-aisle-detection.mp4",
        "input/cameras_config/kidsplaza_thanhxuan.json",
        "footfall.egg-info/PKG-INFO",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/CACHEDIR.TAG",
        "worker/footfall_worker/__pycache__/cli.cpython-311.pyc",
        "models/person_detector/1/__pycache__/model.cpython-311.pyc",
        "operator/footfall_operator/x.pyc",
        "tests/conftest.py",
        "bench/results.json",
        "run/triton.log",
        "build/lib/x.py",
        "dist/footfall-0.1.0.whl",
        ".env",
        "charts/footfall/values.yaml",
    ],
)
def test_the_context_leaves_out(path: str, context_filter: ContextFilter) -> None:
    assert context_filter.excluded(path)


def test_the_whole_model_repository_with_its_weights_goes_into_triton(
    stages: list[Stage], context_filter: ContextFilter, tracked: list[str]
) -> None:
    triton = stage_named(stages, "triton-cpu")
    assert (dict(), ["models"], "/models") in triton.copies(), "COPY models /models (the whole repository)"
    models = sorted(p.parent.name for p in (REPO_ROOT / "models").glob("*/config.pbtxt"))
    assert models == ["appearance_embedder", "gender_classifier", "person_detector"]
    for model in models:
        weights = [p for p in tracked if under(p, f"models/{model}") and p.endswith(".onnx")]
        assert weights, f"models/{model}: no committed weights"
        assert not any(context_filter.excluded(p) for p in weights + [f"models/{model}/config.pbtxt"]), model
    assert not any(context_filter.excluded(p) for p in tracked if under(p, "models")), "part of models/ left out"


def test_the_context_filter_follows_dockerignore_rules() -> None:
    rules = ContextFilter.from_text("*\n!keep\n/keep/drop\n**/*.tmp\n!keep/**/want.tmp\n# c\n\nsub?/[ab]*\n")
    assert rules.excluded("other") and rules.excluded("other/deep/file")
    assert not rules.excluded("keep") and not rules.excluded("keep/a/b.py")
    assert rules.excluded("keep/drop/x") and rules.excluded("keep/x.tmp") and rules.excluded("keep/a/b/x.tmp")
    assert not rules.excluded("keep/a/want.tmp") and not rules.excluded("keep/want.tmp")
    assert rules.excluded("sub1/a.txt") and not rules.excluded("keep")
    assert not ContextFilter.from_text("__pycache__\n").excluded("keep/__pycache__/x")  # root only, like Docker
