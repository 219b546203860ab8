"""Writing and reading the files nango-hooks touches, safely.

* Files it writes are created 0600 before a byte is written and replaced
  atomically (temporary file in the same directory, fsync, rename), so a crash
  leaves the old or the new file, whole.
* It never changes the permissions of a directory it did not create for its
  own state: a project directory or /tmp keeps its mode (and sticky bit).
* A symlinked target is written through (the link is kept, its target is
  replaced) and the caller is told so.
* Inputs are read with a size limit, so /dev/zero or a 1 GB file cannot take
  all memory.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from nango_cli.errors import ConfigError, UsageError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


class Written(NamedTuple):
    """Where `atomic_write` put the bytes: `path`, or the file a symlink at `path` points to."""

    path: Path
    through_symlink: bool = False


def atomic_write(path: Path, content: bytes) -> Written:
    """Replace `path` with `content`, 0600, atomically: written to a new file (O_EXCL)
    then renamed over it. A symlink of the user's own is written through (Written says
    so, for the caller to tell); one owned by another user is refused.

    The parent directory must exist; it is neither created nor chmodded here
    (state directories are made by `ensure_state_dir`).
    """
    import tempfile

    through = path.is_symlink()
    if through and path.lstat().st_uid != os.getuid():
        # As the kernel's protected_symlinks does in sticky directories: a link another
        # user planted (in /tmp, say) must not aim our write at a file of theirs choosing.
        raise UsageError(
            f"cannot write {path}: it is a link owned by another user",
            hint="remove the link, or choose another path",
        )
    target = Path(os.path.realpath(path)) if through else path
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(
            f"cannot write {path}: the directory {parent} does not exist",
            hint="create it first, or choose another path",
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(parent)
    return Written(target, through)


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (so files SQLite derives
    from it, the -wal and -shm, are 0600 too); an existing file of ours is tightened."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            with contextlib.suppress(OSError):
                path.chmod(PRIVATE_FILE)
        return
    os.close(fd)


def ensure_state_dir(path: Path) -> list[str]:
    """Make nango-hooks' own state directory (0700) when it is missing.

    An existing directory is left as it is; what is risky about it comes back as
    warnings (group/world-writable, owned by another user) for the CLI to show.
    """
    if not path.exists():
        try:
            path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the state directory {path}: {exc.strerror or exc}",
                hint="check the permissions of its parent, or point NANGO_HOOKS_HOME "
                "(or --config) somewhere writable",
            ) from None
        return []
    return directory_warnings(path)


def directory_warnings(path: Path) -> list[str]:
    try:
        info = path.stat()
    except OSError:
        return []
    warnings = []
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        who = "everyone" if mode & 0o002 else "its group"
        warnings.append(
            f"{path} is writable by {who} ({mode:o}): another user could replace what "
            f"nango-hooks keeps there; chmod go-w {path}"
        )
    if info.st_uid != os.getuid():
        warnings.append(f"{path} belongs to another user (uid {info.st_uid})")
    return warnings


def readable_by_others(path: Path) -> bool:
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o044)
    except OSError:
        return False


# The largest input read from a file or standard input unless a command says otherwise.
DEFAULT_INPUT_LIMIT = 16 * 1024 * 1024


def format_size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


def read_limited(handle: object, limit: int, what: str) -> bytes:
    """At most `limit` bytes from a binary stream; a UsageError when there are more."""
    read = getattr(handle, "read")  # noqa: B009 - any binary stream
    data: bytes = read(limit + 1)
    if len(data) > limit:
        raise UsageError(
            f"{what} is larger than {format_size(limit)}",
            hint="nango-hooks reads inputs up to that size; pass a smaller file",
        )
    return data


def read_file_limited(path: str | Path, limit: int, what: str) -> bytes:
    """A file's bytes, refusing a regular file over `limit` before reading it and
    reading at most `limit` (+1) bytes of anything else (a pipe, /dev/zero)."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            if stat.S_ISREG(info.st_mode) and info.st_size > limit:
                raise UsageError(
                    f"{what}: {path} is {format_size(info.st_size)}, more than the "
                    f"{format_size(limit)} nango-hooks reads",
                    hint="pass a smaller file",
                )
            return read_limited(handle, limit, f"{what}: {path}")
    except FileNotFoundError:
        raise UsageError(f"{what}: no such file {str(path)!r}", hint="check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{what}: {str(path)!r} is a directory", hint="pass a file") from None
    except PermissionError:
        raise UsageError(
            f"{what}: cannot read {str(path)!r} (permission denied)", hint="check its permissions"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot read {str(path)!r} ({exc.strerror})", hint="check the file"
        ) from None


def inside(folder: Path, name: str) -> Path:
    """`name` (relative) resolved in `folder`, links followed: a ValueError saying why
    when it is absolute or ends up outside `folder` (`../`, a link out of it)."""
    if Path(name).is_absolute():
        raise ValueError(f"{name!r} is an absolute path: name a file in the scenario's folder")
    base = folder.resolve()
    found = (base / name).resolve()
    if found != base and base not in found.parents:
        raise ValueError(f"{name!r} is outside the scenario's folder ({base})")
    return found


def read_regular_limited(path: Path, limit: int, what: str) -> bytes:
    """A regular file's bytes, at most `limit` (read while reading, not from st_size):
    a device, a pipe or a directory is refused without waiting on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {str(path)!r} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{what}: {str(path)!r} is not a regular file")
        return read_limited(handle, limit, f"{what}: {path}")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock held on `path` (created 0600) for the block; where the platform
    has no advisory locks (Windows), the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError as exc:
        raise UsageError(
            f"cannot create the lock file {path}: {exc.strerror}",
            hint="check the permissions of its directory",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
