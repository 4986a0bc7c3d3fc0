"""The files the image tests read: the Dockerfile (parsed), .dockerignore, pyproject.toml."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from tests.image.dockerfile import ContextFilter, Stage, parse
from tests.support.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@pytest.fixture(scope="session")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def context_filter() -> ContextFilter:
    return ContextFilter.from_file(DOCKERIGNORE)
