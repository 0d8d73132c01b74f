"""One writer per folder: a lock file naming its owner, taken over when stale.

`with locked(folder, "training concat"):` holds `folder/.lock` (pid, host, start time
and command) while the block runs. A second process is refused with `Locked`, naming
the owner; a lock whose owner is a dead process on this host is taken over. Locally the
lock is created with a hard link of a complete file (atomic: never half-written); on
other filesystems with a rename that refuses to overwrite (gs:// does it as copy and
delete, so two processes starting in the same instant there are not excluded).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import socket
import sys
import time

from mer_tf.io import storage


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


class Locked(RuntimeError):
    """Another live process holds the folder's lock."""


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([os.path.basename(sys.executable), *sys.argv])[:300]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _create_exclusive(path: str, text: str) -> bool:
    """Writes `path` whole only if it does not exist; True when it was created. Local:
    a hard link of a complete temporary file (atomic, never a half-written lock);
    elsewhere a rename that refuses to overwrite (gs:// does it as copy and delete)."""
    import tensorflow as tf

    # not `path` + suffix: ram:// says a name exists when another name starts with it
    folder = posixpath.dirname(path) if storage.is_remote(path) else os.path.dirname(path)
    tmp = storage.temp_name(storage.join(folder, "lock-candidate"))
    with storage.open_file(tmp, "w") as f:
        f.write(text)
    try:
        if storage.is_remote(path):
            try:
                _gfile().rename(tmp, path, overwrite=False)
                return True
            except tf.errors.AlreadyExistsError:
                return False
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
    finally:
        storage.remove(tmp)


def _describe(owner: dict) -> str:
    return (f"process {owner.get('pid')} on {owner.get('host')} since {owner.get('since')} "
            f"({owner.get('command', '?')})")


@contextlib.contextmanager
def locked(directory: str, what: str):
    """Holds `directory/.lock` while the block runs, so two processes never write one
    folder at once. The lock names its owner (pid, host, start, command); a lock whose
    owner is a dead process on this host is stale and taken over; any other raises
    `Locked`, naming who holds it."""
    storage.makedirs(directory)
    path = storage.join(directory, ".lock")
    mine = _owner()
    for _ in range(20):
        if _create_exclusive(path, storage.to_json(mine)):
            break
        try:
            owner = storage.read_json(path)
        except (ValueError, OSError):
            owner = {}
        except Exception:  # noqa: BLE001  vanished between the two calls: try again
            continue
        stale = (owner.get("host") == mine["host"] and isinstance(owner.get("pid"), int)
                 and not _alive(owner["pid"]))
        if not stale:
            raise Locked(f"{directory} is in use: {what} by {_describe(owner)} holds "
                         f"{path}; wait for it to finish, or remove that file if the "
                         "process is gone")
        print(f"{path}: taking over the lock of {_describe(owner)}, which is no longer "
              "running", file=sys.stderr)
        aside = storage.temp_name(storage.join(directory, "stale-lock"))
        try:  # one taker wins: the stale lock is moved aside, then created anew
            rename_exclusive(path, aside)
            storage.remove(aside)
        except Exception:  # noqa: BLE001  another process took it over first
            pass
    else:
        raise Locked(f"{directory}: could not take {path}")
    try:
        yield
    finally:
        try:
            if storage.read_json(path) == mine:
                storage.remove(path)
        except Exception:  # noqa: BLE001  gone already, or not ours any more
            pass


def rename_exclusive(src: str, dst: str) -> None:
    """Renames `src` to a name that must not exist (raises if `src` is gone)."""
    if storage.is_remote(src):
        _gfile().rename(str(src), str(dst), overwrite=False)
    else:
        os.rename(src, dst)
