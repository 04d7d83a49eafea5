"""The state folder's files: the lock that lets one `up`, `down` or `restart` act at a time,
and permissions that keep what the runtime owns private (folders 0700, files 0600)."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from macroinfra.errors import OperationError
from macroinfra.runtime.local.processes import POLL_S

LOCK_NAME = ".lock"
PRIVATE = 0o077  # the group and other permission bits


@contextmanager
def state_lock(state_dir: Path, deadline: float) -> Iterator[None]:
    """Hold the state folder's lock for the block, waiting for another holder until
    `deadline`. It is an `flock`: the kernel releases it when its holder dies."""
    fd = _locked(state_dir / LOCK_NAME, deadline)
    try:
        yield
    finally:
        os.close(fd)


def _locked(path: Path, deadline: float) -> int:
    while True:
        fd = _open_lock(path)
        try:
            while not _try_lock(fd):
                if time.monotonic() > deadline:
                    raise OperationError(
                        f"another macroinfra command is still working in {path.parent}",
                        hint="wait for it to finish, then run this one again",
                    )
                time.sleep(POLL_S)
            if _same_file(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was replaced while we waited: lock the one there now


def _open_lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if not path.is_file():
            raise OperationError(
                f"cannot create the lock file {path}: {exc.strerror}",
                hint="set MACROINFRA_STATE_DIR to a folder you can write",
            ) from None
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)  # flock needs no write
    if os.fstat(fd).st_mode & PRIVATE:
        os.fchmod(fd, 0o600)
    return fd


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (st.st_dev, st.st_ino)


def check_writable(folder: Path) -> None:
    """One clear line when nothing can be written in `folder` (root ignores permissions, not a
    read-only filesystem)."""
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        problem = "is on a read-only filesystem"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = "is not writable"
    else:
        return
    raise OperationError(
        f"the state folder {folder} {problem}",
        hint="set MACROINFRA_STATE_DIR to a folder you can write",
    )


@contextmanager
def plain_os_errors(state_dir: Path) -> Iterator[None]:
    """A file the runtime cannot use is one line naming it, not a traceback."""
    try:
        yield
    except OSError as exc:
        where = f"cannot use {exc.filename}" if exc.filename else "file error"
        raise OperationError(
            f"{where}: {exc.strerror or exc}", hint=f"check the files in {state_dir}"
        ) from None


def restrict(path: Path) -> None:
    """Take the group and other permissions off `path` and everything in it. Never adds a
    permission; leaves symbolic links (and what they point to) alone."""
    if path.is_symlink() or not path.exists():
        return
    _strip(str(path))
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                if not os.path.islink(found := os.path.join(root, name)):
                    _strip(found)


def _strip(path: str) -> None:
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    if mode & PRIVATE:
        os.chmod(path, mode & ~PRIVATE)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, whatever mode it had (never through a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, 0o600)
        f.write(text)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
