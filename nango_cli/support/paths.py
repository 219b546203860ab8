"""Where nango-hooks keeps its state: `Directories`, made once per invocation from the
process's environment (`from_os`) and passed down; nothing below the CLI looks it up.

`NANGO_HOOKS_HOME` relocates everything (config and data) so tests and CI runs are
hermetic; otherwise the platform's user config and data directories are used.
`NANGO_HOOKS_CONFIG` (and `--config`) name another config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

APP_NAME = "nango-hooks"
HOME_ENV = "NANGO_HOOKS_HOME"
CONFIG_ENV = "NANGO_HOOKS_CONFIG"
CONFIG_FILENAME = "config.toml"
DB_FILENAME = "history.sqlite3"


@dataclass(frozen=True)
class Directories:
    """The config file, and the data directory: the history store, the running
    servers' addresses, the last `check` report."""

    config_file: Path
    data: Path

    @property
    def history_db(self) -> Path:
        return self.data / DB_FILENAME

    def with_config(self, explicit: str | os.PathLike[str] | None) -> Directories:
        """These, with `--config PATH` when given."""
        if not explicit:
            return self
        return replace(self, config_file=Path(explicit).expanduser())

    @classmethod
    def under(cls, home: Path) -> Directories:
        """Everything below one folder, as `NANGO_HOOKS_HOME` places it."""
        return cls(config_file=home / CONFIG_FILENAME, data=home / "data")

    @classmethod
    def from_os(cls) -> Directories:
        """This process's: `NANGO_HOOKS_HOME`, else the platform's user directories;
        `NANGO_HOOKS_CONFIG` names the config file."""
        home = os.environ.get(HOME_ENV)
        if home:
            found = cls.under(Path(home).expanduser())
        else:
            import platformdirs

            found = cls(
                config_file=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
                / CONFIG_FILENAME,
                data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            )
        return found.with_config(os.environ.get(CONFIG_ENV))
