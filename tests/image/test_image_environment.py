"""The images install what the tests install, so the two cannot drift.

- footfall: the project from pyproject.toml with no extras (its `dependencies`); hack/venv.sh installs the same
  project for the tests, plus the `test` extra only.
- triton-cpu: exactly hack/requirements-triton.txt, laid out by hack/triton-assemble.sh and started with the
  library path, PATH and server flags of hack/triton.sh (which the Triton tests run).
- both: the non-root uid the operator's Deployments run as, the journal and port the Deployments mount and probe.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import Requirement

from footfall_operator.settings import WorkerDefaults
from footfall_operator.worker_pod import JOURNAL_MOUNT
from tests.image.dockerfile import Stage, stage_named
from tests.support.paths import REPO_ROOT

HACK = REPO_ROOT / "hack"


def python_version(stages: list[Stage]) -> str:
    match = re.fullmatch(r"python:(\d+\.\d+)-.*", stages[0].base)
    assert match, stages[0].base
    return match.group(1)


def pip_installs(stage: Stage) -> list[list[str]]:
    """The arguments after `pip install` of every pip install in the stage's RUNs."""
    found = []
    for command in stage.run_commands():
        words = command.split()
        for i, word in enumerate(words[:-1]):
            if word.endswith("pip") and words[i + 1] == "install":
                found.append(words[i + 2 :])
    return found


def path_entries(stage: Stage) -> list[str]:
    return stage.env()["PATH"].split(":")


# ---- footfall: the project, no extras ------------------------------------------------------------------------


def test_build_stage_installs_the_project_with_no_extras(stages: list[Stage], pyproject: dict[str, Any]) -> None:
    build = stage_named(stages, "build")
    installs = pip_installs(build)
    # first pyproject's own dependency list (a layer that survives code changes), then the project without deps
    assert len(installs) == 2, installs
    assert installs[0][-2:] == ["-r", "/tmp/requirements.txt"], installs[0]
    (listing,) = [c for c in build.run_commands() if "/tmp/requirements.txt" in c and "tomllib" in c]
    assert "['project']['dependencies']" in listing, listing  # no extras, no hand-kept copy of the list
    assert "--no-deps" in installs[1]
    operands = [word for word in installs[1] if not word.startswith("-")]
    assert operands == ["."], f"pip install {installs[1]}: the project itself, no extras, nothing else"
    assert build.last("WORKDIR").args == "/src"  # type: ignore[union-attr]
    copied = {src: dest for _, sources, dest in build.copies() for src in sources}
    # `.` is the pyproject.toml copied into the working dir, with everything setuptools needs to build it.
    assert copied.get("pyproject.toml") == "./"
    assert copied.get(pyproject["project"]["readme"]) == "./"
    for where in pyproject["tool"]["setuptools"]["packages"]["find"]["where"]:
        assert copied.get(where) == f"./{where}", f"{where}/ holds packages and is not copied"
    assert any(c.startswith("python -m venv /opt/footfall") for c in build.run_commands())


def test_footfall_stage_is_the_build_venv_and_nothing_else(stages: list[Stage]) -> None:
    final = stage_named(stages, "footfall")
    assert pip_installs(final) == []
    assert final.copies() == [({"from": "build"}, ["/opt/footfall"], "/opt/footfall")]
    assert path_entries(final)[0] == "/opt/footfall/bin"


def test_every_data_file_of_the_packages_is_installed(pyproject: dict[str, Any]) -> None:
    """`pip install .` copies only .py files unless package-data names the rest (the worker reads its SQL
    migrations from the installed package; the editable test venv would never notice them missing)."""
    setuptools = pyproject["tool"]["setuptools"]
    package_data: dict[str, list[str]] = setuptools.get("package-data", {})
    for where in setuptools["packages"]["find"]["where"]:
        done = subprocess.run(["git", "ls-files", where], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        for path in done.stdout.split():
            relative = PurePosixPath(path).relative_to(where)
            if relative.suffix == ".py" or "__pycache__" in relative.parts:
                continue
            package, inside = relative.parts[0], PurePosixPath(*relative.parts[1:])
            globs = package_data.get(package, []) + package_data.get("*", [])
            assert any(inside.match(glob) or fnmatch.fnmatch(str(inside), glob) for glob in globs), (
                f"{path} is not installed by `pip install .`: add it to [tool.setuptools.package-data] {package}"
            )


def test_test_venv_is_the_same_project_plus_the_test_extra(pyproject: dict[str, Any]) -> None:
    script = (HACK / "venv.sh").read_text(encoding="utf-8")
    installs = re.findall(r'pip" install .*?(-e )?"\$FOOTFALL_ROOT(\[[^\]]*\])?"', script)
    assert installs == [("-e ", "[test]")], installs
    assert "test" in pyproject["project"]["optional-dependencies"]


def test_entry_points_import_with_only_the_image_dependencies(pyproject: dict[str, Any]) -> None:
    """Every module of both packages imports with only the distributions `pip install .` brings in (the test
    and eval extras blocked), except `footfall eval`'s scoring, which needs the `eval` extra by design."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("runtime_imports.py"))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    failed = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line)
    eval_extra = [Requirement(r).name for r in pyproject["project"]["optional-dependencies"]["eval"]]
    for module, error in failed.items():
        assert module.startswith("footfall_worker.evaluation."), f"{module} fails in the image: {error}"
        assert any(f"(from {name})" in error for name in eval_extra), f"{module}: {error}"
    for script in pyproject["project"]["scripts"].values():
        assert script.partition(":")[0] not in failed, script


def test_image_entry_points_are_the_projects_scripts(stages: list[Stage], pyproject: dict[str, Any]) -> None:
    scripts = pyproject["project"]["scripts"]
    entrypoint = stage_named(stages, "footfall").last("ENTRYPOINT")
    assert entrypoint and entrypoint.exec_form() == ["footfall-worker"]
    # footfall-operator: the operator's Deployment sets it as the command of the same image.
    for name in ("footfall-worker", "footfall-operator"):
        module, _, function = scripts[name].partition(":")
        assert callable(getattr(importlib.import_module(module), function)), scripts[name]
    assert "footfall-operator" in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")


# ---- triton-cpu: exactly hack/requirements-triton.txt, laid out and started as hack/triton.sh does ----------


def test_triton_venv_is_exactly_the_requirements_file_hack_uses(stages: list[Stage]) -> None:
    build = stage_named(stages, "triton-build")
    copied = {src: dest for _, sources, dest in build.copies() for src in sources}
    assert copied.get("hack/requirements-triton.txt") == "/tmp/triton/"
    assert pip_installs(build) == [
        ["--no-cache-dir", "--disable-pip-version-check", "-r", "/tmp/triton/requirements-triton.txt"]
    ]
    script = (HACK / "triton.sh").read_text(encoding="utf-8")
    assert re.findall(r"make_venv .*", script) == ['make_venv "$VENV" "$FOOTFALL_ROOT/hack/requirements-triton.txt"']
    assert "python -m venv /opt/triton" in build.run_commands()[0]


def test_triton_server_is_laid_out_by_the_script_hack_uses(stages: list[Stage]) -> None:
    build = stage_named(stages, "triton-build")
    copied = {src: dest for _, sources, dest in build.copies() for src in sources}
    assert copied.get("hack/triton-assemble.sh") == "/tmp/triton/"
    assert "/tmp/triton/triton-assemble.sh /opt/triton /opt/tritonserver" in build.run_commands()
    script = (HACK / "triton.sh").read_text(encoding="utf-8")
    assert '"$FOOTFALL_ROOT/hack/triton-assemble.sh" "$VENV" "$SERVER"' in script
    final = stage_named(stages, "triton-cpu")
    assert ({"from": "triton-build"}, ["/opt/triton"], "/opt/triton") in final.copies()
    assert ({"from": "triton-build"}, ["/opt/tritonserver"], "/opt/tritonserver") in final.copies()


def test_triton_assemble_places_the_stub_for_the_venvs_python(tmp_path: Path) -> None:
    """hack/triton-assemble.sh on a venv holding a stand-in pytriton tree (the real one is 100+ MB)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    pyver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    server = venv / "lib" / f"python{pyver}" / "site-packages" / "pytriton" / "tritonserver"
    for relative in ["bin/tritonserver", "backends/python/libtriton_python.so", "caches/local/x.so"]:
        (server / relative).parent.mkdir(parents=True, exist_ok=True)
        (server / relative).write_text(relative)
    for version in ("3.10", pyver, "3.12"):
        (server / "python_backend_stubs" / version).mkdir(parents=True, exist_ok=True)
        (server / "python_backend_stubs" / version / "triton_python_backend_stub").write_text(version)
    dest = tmp_path / "opt" / "tritonserver"
    subprocess.run([str(HACK / "triton-assemble.sh"), str(venv), str(dest)], check=True, timeout=60)
    assert (dest / "backends" / "python" / "triton_python_backend_stub").read_text() == pyver
    assert (dest / "bin" / "tritonserver").read_text() == "bin/tritonserver"
    assert (dest / "caches" / "local" / "x.so").exists()
    assert not (dest.parent / "tritonserver.tmp").exists()


def test_triton_library_path_and_path_are_hack_triton_sh_s(stages: list[Stage]) -> None:
    """hack/triton.sh starts the server with LD_LIBRARY_PATH="$site/nvidia_pytriton.libs:$libdir..." and
    PATH="$VENV/bin:...": the same with the image's venv (/opt/triton) and LIBDIR (/usr/local/lib in the
    official python images, where libpython3.X.so lives)."""
    script = (HACK / "triton.sh").read_text(encoding="utf-8")
    (library_path,) = re.findall(r'LD_LIBRARY_PATH="([^"]*)"', script)
    assert library_path.endswith("${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"), library_path
    site = f"/opt/triton/lib/python{python_version(stages)}/site-packages"
    expected = library_path.removesuffix("${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
    expected = expected.replace("$site", site).replace("$libdir", "/usr/local/lib")
    assert "$" not in expected, expected
    # And the same pieces: `site` and `libdir` are computed in the script exactly as named here.
    assert """site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')""" in script
    assert """libdir=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')""" in script
    final = stage_named(stages, "triton-cpu")
    assert final.env()["LD_LIBRARY_PATH"] == expected
    assert 'PATH="$VENV/bin:$PATH"' in script
    assert path_entries(final)[0] == "/opt/triton/bin"
    assert "/opt/tritonserver/bin" in path_entries(final)


def test_triton_entrypoint_is_hack_triton_sh_s_command_on_all_interfaces(stages: list[Stage]) -> None:
    final = stage_named(stages, "triton-cpu")
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None
    command = entrypoint.exec_form()
    assert command[0] == "tritonserver"
    flags = dict(word.removeprefix("--").split("=", 1) for word in command[1:])
    script = (HACK / "triton.sh").read_text(encoding="utf-8")
    script_flags = set(re.findall(r"--([a-z-]+)=", script.split('"$SERVER/bin/tritonserver"', 1)[1].split(">", 1)[0]))
    # Every flag hack/triton.sh passes is set here too (cache-directory: the layout's own, read-only is fine).
    assert script_flags <= set(flags), script_flags - set(flags)
    assert flags["model-repository"] == "/models"
    assert flags["backend-directory"] == "/opt/tritonserver/backends"
    assert flags["cache-directory"] == "/opt/tritonserver/caches"
    for kind in ("grpc", "http", "metrics"):
        assert flags[f"{kind}-address"] == "0.0.0.0", kind  # a Service reaches it: not loopback
    # hack/triton.sh's default ports, and what the image exposes.
    for kind, variable in (("grpc", "GRPC_PORT"), ("http", "HTTP_PORT"), ("metrics", "METRICS_PORT")):
        (default,) = re.findall(rf"^{variable}=\$\{{FOOTFALL_TRITON_{variable}:-(\d+)\}}", script, re.M)
        assert flags[f"{kind}-port"] == default, kind
    exposed = final.last("EXPOSE")
    assert exposed and sorted(exposed.args.split()) == sorted(flags[f"{k}-port"] for k in ("grpc", "http", "metrics"))
    assert WorkerDefaults.model_fields["triton_url"].default.endswith(f":{flags['grpc-port']}")


# ---- both: the user, the journal, the port the operator's Deployments expect --------------------------------


def test_final_stages_run_as_the_operators_numeric_uid(stages: list[Stage]) -> None:
    uid = str(WorkerDefaults.model_fields["run_as_user"].default)
    for name in ("triton-cpu", "footfall"):
        stage = stage_named(stages, name)
        users = [user.args for user in stage.all("USER")]
        assert users == [uid], f"{name}: USER {users}, want one numeric USER {uid}"
        commands = " ".join(stage.run_commands())
        assert f"groupadd --gid {uid}" in commands and f"useradd --uid {uid} --gid {uid}" in commands, name


def test_worker_journal_and_port_are_the_deployments(stages: list[Stage]) -> None:
    final = stage_named(stages, "footfall")
    env = final.env()
    # kopf names the operator's peer after getpass.getuser(): LOGNAME answers it for any uid.
    assert env["LOGNAME"] == "footfall"
    uid = str(WorkerDefaults.model_fields["run_as_user"].default)
    assert env["FOOTFALL_JOURNAL_DIR"] == JOURNAL_MOUNT
    commands = final.run_commands()
    assert f"mkdir -p {JOURNAL_MOUNT}" in commands
    assert f"chown {uid}:{uid} {JOURNAL_MOUNT}" in commands
    port = str(WorkerDefaults.model_fields["http_port"].default)
    assert env["FOOTFALL_HTTP_PORT"] == port
    exposed = final.last("EXPOSE")
    assert exposed and exposed.args == port
