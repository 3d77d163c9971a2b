#!/usr/bin/env python3
"""`.ci/mirror.py DEST`: copies the files git tracks here into the persistent work tree DEST,
writing only those whose content differs, and deletes the ones it copied before that git no
longer tracks. `.ci/mirror.py --from DIR DEST` does the same with every file under DIR (the
UI build: scripts/ui-build.sh).

Why: cargo decides what to rebuild by the modification times of the sources. A fresh clone
gives every file a new time, so every workspace crate would rebuild on every CI run. In DEST a
file's time changes only when its content does, so a warm cache rebuilds only what changed,
and always rebuilds what did (the comparison is by content, never by time).
"""
import os
import shutil
import subprocess
import sys

MANIFEST = ".ci-mirror-files"


def tracked() -> list[str]:
    out = subprocess.check_output(["git", "ls-files", "-z"])
    return [f for f in out.decode().split("\0") if f]


def same(a: str, b: str) -> bool:
    if os.path.islink(a) or os.path.islink(b):
        return os.path.islink(a) and os.path.islink(b) and os.readlink(a) == os.readlink(b)
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        if os.stat(a).st_mode & 0o111 != os.stat(b).st_mode & 0o111:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    except OSError:
        return False


def copy(a: str, b: str) -> None:
    os.makedirs(os.path.dirname(b) or ".", exist_ok=True)
    if os.path.lexists(b):
        os.remove(b)
    if os.path.islink(a):
        os.symlink(os.readlink(a), b)
    else:
        shutil.copyfile(a, b)
        shutil.copymode(a, b)


def under(root: str) -> list[str]:
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(out)


def main() -> int:
    args = sys.argv[1:]
    listed = None
    if len(args) == 3 and args[0] == "--from":
        # Every file under DIR; whatever else DEST holds goes.
        dest = os.path.abspath(args[2])
        os.chdir(args[1])
        files = under(".")
        before = set(under(dest)) if os.path.isdir(dest) else set()
    elif len(args) == 1:
        # The tracked files; what an earlier run copied and git no longer tracks goes (build
        # outputs and node_modules in DEST stay).
        dest = os.path.abspath(args[0])
        files = tracked()
        listed = os.path.join(dest, MANIFEST)
        before = set()
        if os.path.exists(listed):
            with open(listed, encoding="utf-8") as f:
                before = {line for line in f.read().split("\0") if line}
    else:
        print("usage: .ci/mirror.py [--from DIR] DEST", file=sys.stderr)
        return 2
    os.makedirs(dest, exist_ok=True)
    changed = 0
    for f in files:
        if not os.path.lexists(f):
            continue  # deleted in the work tree but not committed: not part of the clone
        d = os.path.join(dest, f)
        if not same(f, d):
            copy(f, d)
            changed += 1
    gone = before - set(files)
    for f in gone:
        d = os.path.join(dest, f)
        if os.path.lexists(d):
            os.remove(d)
    if listed:
        with open(listed, "w", encoding="utf-8") as f:
            f.write("\0".join(files))
    print(f"mirror: {len(files)} files, {changed} written, {len(gone)} removed -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
