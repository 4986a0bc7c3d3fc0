"""Camera logins: where a channel's come from (environment variables, or a mounted Secret's files re-read at
every connect so a rotated password reaches a running worker), and what makes a value unusable.

A login is typed by hand: a trailing newline from `echo` or a pasted tab is the usual mistake, and it used to
surface as a crash at start. Here it is a `ConfigError` naming the variable or file and the position, never the
value; the operator applies the same rule (`credential_defect`) to the Secret and says so in the CameraChannel.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from footfall_contract.config.text import INVISIBLE_CATEGORIES, control_character

MAX_CREDENTIAL_CHARS = 256
_MAX_FILE_BYTES = 4 * MAX_CREDENTIAL_CHARS  # UTF-8 is at most 4 bytes a character


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file, the field and what was expected."""


class CameraCredentials(BaseModel):
    """A camera login. `SecretStr` keeps the password out of reprs and logs."""

    model_config = ConfigDict(frozen=True)

    username: str = Field(min_length=1)
    password: SecretStr


def credential_defect(text: str) -> str | None:
    """What makes `text` unusable as a camera username or password (never quoting it), None when it is usable."""
    if not text:
        return "is empty"
    if len(text) > MAX_CREDENTIAL_CHARS:
        return f"is {len(text)} characters long (at most {MAX_CREDENTIAL_CHARS})"
    if (found := control_character(text, INVISIBLE_CATEGORIES)) is not None:
        return f"contains {found}"
    if not text.isascii() and any("\ud800" <= char <= "\udfff" for char in text):
        # an environment variable holding bytes that are not UTF-8 reaches Python as lone surrogates
        # (surrogateescape), which no URL can carry: quoting them into the stream URL would raise
        return "is not UTF-8 text"
    return None


class CredentialsRef(BaseModel):
    """Where a channel's credentials come from: two environment variables, or a directory of a mounted Secret.

    In a cluster the operator mounts the channel's Secret as files (`directory`), which the kubelet updates when
    the Secret changes; locally the variables come from the shell. The values themselves are never written into
    a config file, a manifest or a status.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    username_env: str = Field(default="FOOTFALL_CAMERA_USERNAME", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    password_env: str = Field(default="FOOTFALL_CAMERA_PASSWORD", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    directory: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^/[^\x00-\x1f]*$",
        description="an absolute directory with the files `username` and `password` (a mounted Secret); read at "
        "every connect, so a rotated Secret reaches a running worker. Set: the variables are not read",
    )

    def resolve(self, environ: Mapping[str, str] | None = None) -> CameraCredentials:
        """Read the credentials now: from `directory` when set, else from `environ` (default: the process's).

        Raises:
            ConfigError: a variable or file is missing, or its value is unusable (`credential_defect`); the message
                names the variable or file, never a value.
        """
        if self.directory is not None:
            return self._from_files(Path(self.directory))
        env = os.environ if environ is None else environ
        missing = [name for name in (self.username_env, self.password_env) if not env.get(name)]
        if missing:
            raise ConfigError(
                f"camera credentials: environment variable(s) {', '.join(missing)} not set; "
                "they hold the camera login (in Kubernetes, from the channel's Secret)"
            )
        username, password = env[self.username_env], env[self.password_env]
        for name, value in ((self.username_env, username), (self.password_env, password)):
            if (defect := credential_defect(value)) is not None:
                raise ConfigError(f"camera credentials: environment variable {name} {defect}")
        return CameraCredentials(username=username, password=SecretStr(password))

    def _from_files(self, directory: Path) -> CameraCredentials:
        values = []
        for name in ("username", "password"):
            path = directory / name
            try:
                with path.open("rb") as file:
                    raw = file.read(_MAX_FILE_BYTES + 1)
            except OSError as error:
                raise ConfigError(f"camera credentials: cannot read {path}: {error.strerror}") from None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"camera credentials: {path} is not UTF-8 text") from None
            if (defect := credential_defect(text)) is not None:
                raise ConfigError(f"camera credentials: {path} {defect}")
            values.append(text)
        return CameraCredentials(username=values[0], password=SecretStr(values[1]))
