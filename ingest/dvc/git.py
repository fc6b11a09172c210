"""Where DVC metadata comes from: the commits of a git repository, or one plain
folder. Both are seen as :class:`Snapshot`s (a set of files that can be read).

Git is driven through its CLI: ``git log`` lists the commits that touched DVC
files, ``git ls-tree`` lists a commit's files, and one long-lived
``git cat-file --batch`` reads blobs (cached by blob id, so a file that did not
change between commits is read once).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from provex.ingest import confine
from provex.vocab.errors import SourceError, UsageError

#: Pathspecs of the files that make a commit interesting to DVC.
DVC_PATHSPECS = (":(glob)**/dvc.yaml", ":(glob)**/dvc.lock", ":(glob)**/*.dvc")
_SKIP_DIRS = {"node_modules", "__pycache__"}


def is_dvc_file(path: str) -> bool:
    """dvc.yaml, dvc.lock or a ``*.dvc`` file (not the ``.dvc/`` folder)."""
    name = PurePosixPath(path).name
    return name in ("dvc.yaml", "dvc.lock") or (name.endswith(".dvc") and name != ".dvc")


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str | None
    author: str
    email: str
    date: str  # ISO 8601, as git prints %aI
    message: str


@dataclass
class Snapshot:
    """The files of one commit (or of the folder); ``label`` is the sha or "snapshot"."""

    label: str
    commit: Commit | None
    files: dict[str, str] = field(default_factory=dict)  # repo-relative path -> blob id (git) or ""
    reader: object = None

    def dvc_files(self) -> list[str]:
        return sorted(p for p in self.files if is_dvc_file(p))

    def exists(self, path: str) -> bool:
        return path in self.files

    def blob(self, path: str) -> str:
        """A key that changes when the file's content changes."""
        return self.files.get(path, "") or f"{self.label}:{path}"

    def read(self, path: str) -> bytes | None:
        if path not in self.files:
            return None
        return self.reader.read(self, path)  # type: ignore[union-attr]


class FolderReader:
    """One snapshot of a plain folder (or of a git work tree without commits)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.outside: dict[str, str] = {}  # path -> why: symlinks that lead out of the folder (never read)

    def snapshot(self) -> Snapshot:
        files: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:  # regular files only: a FIFO would block, a device never end
                full = os.path.join(dirpath, name)
                if not os.path.isfile(full):
                    continue
                try:
                    confine.inside(full, [self.root])
                except confine.Outside as exc:
                    self.outside[(rel / name).as_posix()] = str(exc)
                    continue
                files[(rel / name).as_posix()] = ""
        return Snapshot("snapshot", None, files, self)

    def read(self, snap: Snapshot, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None


class GitReader:
    """Commits and files of a git repository, read through the git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs: dict[str, bytes] = {}
        self._cat: subprocess.Popen[bytes] | None = None

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True)
        if done.returncode:
            raise GitError(done.stderr.decode("utf-8", "replace").strip())
        return done.stdout.decode("utf-8", "replace")

    def commits(self, rev: str | None) -> list[Commit]:
        """Commits that touched DVC files, oldest first (``rev``: checked by :meth:`checked_rev`)."""
        fmt = "%x1e%H%x00%P%x00%an%x00%ae%x00%aI%x00%B"
        rev = self.checked_rev(rev)
        try:
            out = self.git("log", "--reverse", "--topo-order", f"--format={fmt}", "--end-of-options", rev, "--",
                           *DVC_PATHSPECS)
        except GitError as exc:
            raise UsageError(f"{self.root}: git cannot read revision {rev!r} ({exc}). "
                             "Give --rev as a commit, branch or range such as v1..main.") from None
        commits = []
        for chunk in out.split("\x1e")[1:]:
            sha, parents, author, email, date, message = (chunk.split("\x00") + [""] * 6)[:6]
            commits.append(Commit(sha, parents.split()[0] if parents.split() else None, author, email, date,
                                  message.strip()))
        return commits

    def checked_rev(self, rev: Any) -> str:
        """``rev`` (a revision, or a range ``A..B`` / ``A...B``) when each end resolves
        to a commit with ``git rev-parse --verify``; a UsageError otherwise. A rev is
        never an option: one starting with ``-`` is refused before git sees it."""
        if rev is None:
            return "HEAD"
        if not isinstance(rev, str) or not rev.strip():
            raise UsageError(f"{self.root}: rev {rev!r} is not a git revision; write it as text, e.g. rev = \"v1..main\".")
        ends = rev.split("...", 1) if "..." in rev else rev.split("..", 1)
        for end in ends:
            if end.startswith("-") or any(c in end for c in "\x00\n\r"):
                raise UsageError(f"{self.root}: rev {rev!r} is not a git revision (a revision never starts with '-'). "
                                 "Give --rev as a commit, branch or range such as v1..main.")
            if not end:
                continue  # "A.." / "..B": the missing end is HEAD
            try:
                self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{end}^{{commit}}")
            except GitError:
                raise UsageError(f"{self.root}: git cannot resolve {end!r} (of rev {rev!r}) to a commit. "
                                 "Give --rev as a commit, branch or range such as v1..main.") from None
        return rev

    def snapshot(self, commit: Commit) -> Snapshot:
        return Snapshot(commit.sha, commit, self._tree(commit.sha), self)

    def parent_snapshot(self, commit: Commit) -> Snapshot | None:
        if not commit.parent:
            return None
        return Snapshot(commit.parent, None, self._tree(commit.parent), self)

    def _tree(self, sha: str) -> dict[str, str]:
        files: dict[str, str] = {}
        for row in self.git("ls-tree", "-r", "-z", sha).split("\x00"):
            meta, _, path = row.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                files[path] = parts[2]
        return files

    def read(self, snap: Snapshot, path: str) -> bytes | None:
        blob = snap.files.get(path)
        if not blob:
            return None
        if blob not in self._blobs:
            self._blobs[blob] = self._cat_file(blob)
        return self._blobs[blob]

    def _cat_file(self, blob: str) -> bytes:
        if self._cat is None:
            self._cat = subprocess.Popen(["git", "-C", str(self.root), "cat-file", "--batch"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._cat.stdin and self._cat.stdout
        self._cat.stdin.write(blob.encode() + b"\n")
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            return b""
        data = self._cat.stdout.read(int(header[2]))
        self._cat.stdout.read(1)  # the newline after the content
        return data

    def close(self) -> None:
        if self._cat is not None:
            self._cat.stdin.close()  # type: ignore[union-attr]
            self._cat.wait()
            self._cat = None

    def scope(self) -> str:
        """The project name: the origin remote's basename, else the folder name."""
        try:
            url = self.git("remote", "get-url", "origin").strip()
        except GitError:
            url = ""
        base = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        name = base.removesuffix(".git").removesuffix(".bundle")  # a clone of a git bundle too
        return name or self.root.name


class GitError(Exception):
    """git said no; the message is git's own."""


def open_source(path: str | Path) -> FolderReader | GitReader:
    """A GitReader when ``path`` is the top of a git repository with commits, or
    a git directory itself (a bare repository, a clone's ``.git``: git reads
    their history the same way), else a FolderReader (one snapshot)."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise SourceError(f"{root}: not a readable folder. Give the path of a DVC project (a git repository "
                          "or a folder with dvc.yaml / dvc.lock / *.dvc files).")
    reader = GitReader(root)
    try:
        git_dir = Path(reader.git("rev-parse", "--absolute-git-dir").strip()).resolve()
    except (GitError, FileNotFoundError):
        return FolderReader(root)
    if git_dir == root:  # a bare repository, or the .git folder of a clone: no work tree to walk
        _has_commits(reader, root)
        return reader
    try:
        top = Path(reader.git("rev-parse", "--show-toplevel").strip()).resolve()
        reader.git("rev-parse", "--verify", "-q", "HEAD")
    except GitError:
        return FolderReader(root)
    return reader if top == root else FolderReader(root)


def _has_commits(reader: GitReader, root: Path) -> None:
    """A bare repository needs a branch or tag (HEAD may name a branch never pushed: --rev reads another)."""
    try:
        refs = reader.git("for-each-ref", "--count=1", "--format=%(refname)", "refs/heads", "refs/tags").strip()
    except GitError:
        refs = ""
    if not refs:
        raise SourceError(f"{root} is a git repository without a work tree (bare) and without any commit: there "
                          "is no history to read. Push the project's commits to it, or give a clone's folder.")
