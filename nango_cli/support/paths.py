"""Where nango-hooks keeps its state.

`NANGO_HOOKS_HOME` relocates everything (config and data) so tests and CI runs
are hermetic; otherwise the platform's user config and data directories are used.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "nango-hooks"
HOME_ENV = "NANGO_HOOKS_HOME"
CONFIG_ENV = "NANGO_HOOKS_CONFIG"
CONFIG_FILENAME = "config.toml"
DB_FILENAME = "history.sqlite3"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file: `--config` > `NANGO_HOOKS_CONFIG` > the config dir."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return config_dir() / CONFIG_FILENAME


def history_db() -> Path:
    return data_dir() / DB_FILENAME
