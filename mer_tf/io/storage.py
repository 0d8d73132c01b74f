"""File helpers over `tf.io.gfile`, so every data and run path may be local,
`gs://` or any other filesystem TensorFlow knows (`ram://` in tests).

Writes are atomic: the bytes go to a temporary name beside the target, which is
then renamed, so a killed process never leaves a half-written file under the
final name.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import sys
import uuid
from typing import Any, Iterable

# The suffix of a file being written: only names with it are ever removed as leftovers,
# so a user's `results.tmp-final.csv` beside ours is never touched.
_TEMPORARY = re.compile(r"\.tmp-mer_tf-[0-9a-f]{8}$")


def _gfile():
    if "tensorflow" not in sys.modules:  # the library's first TensorFlow import, often
        from mer_tf.io.quiet import quiet_tensorflow

        quiet_tensorflow(loggers=False)
    import tensorflow as tf

    return tf.io.gfile


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` says the disk is full: Python says ENOSPC with an OSError,
    tf.io.gfile with ResourceExhaustedError (which is also an accelerator's out of
    memory, no disk error: told apart by its text)."""
    import errno

    return isinstance(error, Exception) and (
        getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error))


def is_remote(path: str) -> bool:
    """True for URL-style paths (`gs://…`, `ram://…`) that plain `open` can't use."""
    return "://" in str(path)


def join(base: str, *parts: str) -> str:
    base = str(base)
    if is_remote(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def exists(path: str) -> bool:
    # A local path needs no TensorFlow: a command checks its paths before it starts it.
    return _gfile().exists(str(path)) if is_remote(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    return _gfile().isdir(str(path)) if is_remote(path) else os.path.isdir(path)


def makedirs(path: str) -> None:
    _gfile().makedirs(str(path))


def listdir(path: str) -> list[str]:
    if not is_remote(path) and os.path.isdir(path):
        return sorted(os.listdir(path))
    return sorted(name.rstrip("/") for name in _gfile().listdir(str(path)))


def glob(pattern: str) -> list[str]:
    return sorted(_gfile().glob(str(pattern)))


def remove(path: str) -> None:
    if exists(path):
        _gfile().remove(str(path))


def rmtree(path: str) -> None:
    import tensorflow as tf

    try:
        if isdir(path):
            _gfile().rmtree(str(path))
        elif exists(path):
            remove(path)
    except tf.errors.NotFoundError:
        pass  # some filesystems (ram://) report emptied folders that cannot be deleted


def size(path: str) -> int:
    return _gfile().stat(str(path)).length


def fingerprint(path: str) -> list | None:
    """[size, modification time in ns] of a file, or None where there is none: cheap
    evidence (one stat, also on gs://) that a file is still the one it was."""
    import tensorflow as tf

    try:
        stat = _gfile().stat(str(path))
    except tf.errors.NotFoundError:
        return None
    return [int(stat.length), int(stat.mtime_nsec)]


def rename(src: str, dst: str) -> None:
    _gfile().rename(str(src), str(dst), overwrite=True)


def move_tree(src: str, dst: str, last: str | None = None) -> None:
    """Moves directory `src` to `dst` (replacing it).

    Local: one atomic rename. Other filesystems do not all rename directories
    (ram:// leaves the children behind), so files move one by one, with `last`
    (e.g. saved_model.pb) moved last: until then `dst` is visibly incomplete.
    """
    rmtree(dst)
    if not is_remote(src) and not is_remote(dst):
        os.replace(src, dst)
        return
    files = []
    for directory, _, names in _gfile().walk(src):
        files += [join(directory, name) for name in names]
    files.sort(key=lambda f: f.rsplit("/", 1)[-1] == last)
    for path in files:
        target = dst + path[len(src):]
        makedirs(target.rsplit("/", 1)[0])
        rename(path, target)
    rmtree(src)


def temp_name(path: str) -> str:
    """A sibling name for a file being written, which only this package makes."""
    return f"{path}.tmp-mer_tf-{uuid.uuid4().hex[:8]}"


def is_temporary(name: str) -> bool:
    """True for a name `temp_name` made (a leftover of a killed write)."""
    return bool(_TEMPORARY.search(name))


def copy(src: str, dst: str) -> None:
    """Copies a file atomically (a temporary name beside `dst`, then a rename)."""
    tmp = temp_name(dst)
    try:
        _gfile().copy(str(src), tmp, overwrite=True)
        rename(tmp, dst)
    finally:
        remove(tmp)


def sha256_of(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open_file(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def open_file(path: str, mode: str = "r"):
    return _gfile().GFile(str(path), mode)


def read_bytes(path: str) -> bytes:
    with open_file(path, "rb") as f:
        return f.read()


def read_text(path: str, encoding: str = "utf-8", errors: str = "strict") -> str:
    return read_bytes(path).decode(encoding, errors=errors)


def write_bytes_atomic(path: str, data: bytes) -> None:
    tmp = temp_name(path)
    try:
        with open_file(tmp, "wb") as f:
            f.write(data)
        rename(tmp, path)
    finally:
        remove(tmp)


def write_lines_atomic(path: str, lines: Iterable[str]) -> None:
    """Writes text piece by piece (a corpus's index: never the whole of it in memory at
    once) under a temporary name, then renames it."""
    tmp = temp_name(path)
    try:
        with open_file(tmp, "wb") as f:
            for line in lines:
                f.write(line.encode("utf-8"))
        rename(tmp, path)
    finally:
        remove(tmp)


def write_text_atomic(path: str, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def to_json(obj: Any) -> str:
    """Stable JSON (sorted keys, fixed indent) so re-runs write identical bytes."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json_atomic(path: str, obj: Any) -> None:
    write_text_atomic(path, to_json(obj))


def read_json(path: str) -> Any:
    return json.loads(read_text(path))


def remove_temporaries(directory: str, names: Iterable[str] | None = None) -> int:
    """Deletes the leftovers of killed writes (names `temp_name` made, nothing else);
    returns how many."""
    if not exists(directory):
        return 0
    removed = 0
    for name in names if names is not None else listdir(directory):
        if is_temporary(name):
            remove(join(directory, name))
            removed += 1
    return removed
