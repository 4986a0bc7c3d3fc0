"""Just enough of a Dockerfile and .dockerignore reader for the image tests (no Docker needed).

`parse` follows the Dockerfile reference for what our Dockerfile uses: `\\` line continuations, comment lines
(also inside a continuation), global `ARG`s before the first FROM (expanded in FROM), `FROM image AS name`
stages, JSON (exec) and shell forms. `ContextFilter` follows Docker's .dockerignore rules (Go filepath.Match
patterns plus `**`, leading `/` ignored, `!` re-includes, the last matching pattern wins, a match on a directory
covers everything under it).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the text after the keyword, continuations joined
    line: int  # 1-based line of the keyword

    def exec_form(self) -> list[str]:
        """ENTRYPOINT/CMD/RUN arguments: the JSON array, or the shell form split like a shell would."""
        text = self.args.strip()
        if text.startswith("["):
            value = json.loads(text)
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
            return value
        return shlex.split(text)

    def flags_and_operands(self) -> tuple[dict[str, str], list[str]]:
        """COPY/ADD: `--from=build --chown=1:1 a b dest` -> ({"from": "build", "chown": "1:1"}, ["a", "b", "dest"])."""
        flags: dict[str, str] = {}
        operands: list[str] = []
        for word in shlex.split(self.args):
            if word.startswith("--") and not operands:
                key, _, value = word[2:].partition("=")
                flags[key] = value
            else:
                operands.append(word)
        return flags, operands

    def key_values(self) -> dict[str, str]:
        """ENV/LABEL/ARG `k=v k2="v 2"` pairs (the legacy `ENV k v` form too)."""
        words = shlex.split(self.args)
        if self.keyword == "ENV" and words and "=" not in words[0]:
            return {words[0]: " ".join(words[1:])}
        return dict(word.partition("=")[::2] for word in words)


@dataclass
class Stage:
    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)
    base_written: str = ""

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            values.update(instruction.key_values())
        return values

    def labels(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("LABEL"):
            values.update(instruction.key_values())
        return values

    def copies(self) -> list[tuple[dict[str, str], list[str], str]]:
        """Every COPY as (flags, sources, destination)."""
        result = []
        for instruction in self.all("COPY"):
            flags, operands = instruction.flags_and_operands()
            result.append((flags, operands[:-1], operands[-1]))
        return result

    def run_commands(self) -> list[str]:
        """Each RUN's shell command, split on `&&` into single commands."""
        commands: list[str] = []
        for instruction in self.all("RUN"):
            commands.extend(part.strip() for part in instruction.args.split("&&"))
        return commands


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, instruction text) with continuations joined and comment/blank lines dropped."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment line inside a continuation is removed by the parser
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    assert not pending, "the Dockerfile ends inside a line continuation"
    return lines


def _expand(word: str, args: dict[str, str]) -> str:
    """`${NAME}` / `$NAME` in a FROM, by the default of a global ARG (what a build without --build-arg uses)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in args, f"FROM uses ${name}, which no ARG before the first FROM declares"
        return args[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word)


def parse(text: str) -> list[Stage]:
    """The stages; `Stage.base` is the FROM with global ARGs at their defaults, `Stage.base_written` as written."""
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    for number, line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            global_args.update(Instruction(keyword, args.strip(), number).key_values())
            continue
        if keyword == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
            stages.append(Stage(base=_expand(words[0], global_args), name=name, line=number, base_written=words[0]))
            continue
        assert stages, f"line {number}: {keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, args.strip(), number))
    return stages


def stage_named(stages: list[Stage], name: str) -> Stage:
    found = [s for s in stages if s.name == name]
    assert len(found) == 1, f"expected one stage named {name!r}, found {[s.name for s in stages]}"
    return found[0]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Go filepath.Match syntax plus `**` (any number of path segments), as Docker's patternmatcher reads it."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):  # `**/` : zero or more whole segments
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("^"):
                body = "!" + body[1:]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass
class ContextFilter:
    """Which paths of the build context a .dockerignore leaves in."""

    rules: list[tuple[bool, str, re.Pattern[str]]]  # (exclude?, pattern as written, regex)

    @classmethod
    def from_text(cls, text: str) -> ContextFilter:
        rules = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclude = not line.startswith("!")
            pattern = line if exclude else line[1:].strip()
            cleaned = str(PurePosixPath("/" + pattern.lstrip("/"))).lstrip("/") or "."
            rules.append((exclude, line, _pattern_regex(cleaned)))
        return cls(rules)

    @classmethod
    def from_file(cls, path: Path) -> ContextFilter:
        return cls.from_text(path.read_text(encoding="utf-8")) if path.exists() else cls([])

    def excluded(self, path: str) -> bool:
        """Is this context-relative path (file or directory) left out of the build context?"""
        parts = PurePosixPath(path).parts
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # the path and its parents
        excluded = False
        for exclude, _, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                excluded = exclude
        return excluded
