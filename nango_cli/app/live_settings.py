"""Settings that follow the config file while a server runs.

`listen`, `api` and `ui` run for hours; a key, secret key or URL set meanwhile (the
tour sets the signing key after starting the listener) must apply to the next
request, not the next start. `LiveSettings()` returns the effective settings,
reading the file again only when it changed: one `stat` per call, a parse per change.
A file that no longer parses keeps the last good settings, and says so once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nango_cli.app.config_file import ConfigFile
from nango_cli.app.keys import key_ring
from nango_cli.app.settings import Settings, resolve
from nango_cli.errors import NangoHooksError
from nango_cli.protocol.signatures import KeyRing


class LiveSettings:
    def __init__(
        self,
        path: Path,
        env_flag: str | None = None,
        flags: Mapping[str, Any] | None = None,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.env_flag = env_flag
        self.flags = dict(flags or {})
        self.on_problem = on_problem or (lambda text: None)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = self._fingerprint()
        self._settings = resolve(ConfigFile.load(path), env_flag, self.flags)
        self._keys: tuple[Settings, KeyRing] | None = None
        self.changes = 0

    def _fingerprint(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def __call__(self) -> Settings:
        stamp = self._fingerprint()
        if stamp == self._stamp:
            return self._settings
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._settings = resolve(ConfigFile.load(self.path), self.env_flag, self.flags)
                    self.changes += 1
                except NangoHooksError as exc:
                    self.on_problem(
                        f"{exc.message}: keeping the settings read before ({exc.hint or ''})"
                    )
                self._stamp = stamp
        return self._settings

    def keys(self) -> KeyRing:
        """The key ring of the current settings (made again when they change)."""
        settings = self()
        cached = self._keys
        if cached is None or cached[0] is not settings:
            cached = self._keys = (settings, key_ring(settings))
        return cached[1]
