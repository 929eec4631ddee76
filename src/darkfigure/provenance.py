"""Provenance: hashes of inputs and posterior contents, code state, library versions.

Every posterior file carries these as string attributes so that a reader can tell whether it
still describes the inputs on disk and a reviewer can refit it (`darkfigure reproduce`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import subprocess
import tomllib
from pathlib import Path

import numpy as np

from .errors import InputError

MANIFEST = "MANIFEST.toml"
LIBRARIES = ("darkfigure", "numpy", "scipy", "xarray", "pymc", "pytensor", "nutpie",
             "arviz", "arviz-base", "arviz-stats", "h5netcdf", "h5py", "numba")


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _find_manifest(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        candidate = parent / MANIFEST
        if candidate.is_file():
            return candidate
        if (parent / ".git").exists():
            return None
    return None


def check_manifest(path: str | Path) -> None:
    """If a MANIFEST.toml above ``path`` registers it, its sha256 must match (raw data is
    read-only: a changed file is an error, not a silent new input)."""
    path = Path(path)
    manifest = _find_manifest(path)
    if manifest is None or not path.is_file():
        return
    try:
        entries = tomllib.loads(manifest.read_text("utf-8")).get("files", {})
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"cannot parse: {err}", path=manifest) from None
    key = path.resolve().relative_to(manifest.parent.resolve()).as_posix()
    entry = entries.get(key)
    if entry is None:
        return
    actual = sha256_file(path)
    if actual != entry.get("sha256"):
        raise InputError(f"sha256 {actual[:12]}... differs from {entry.get('sha256', '')[:12]}"
                         f"... registered in {manifest}; raw data must not change: restore the "
                         "file or register the new version deliberately", path=path)


def git_state(where: Path | None = None) -> tuple[str, str]:
    """(commit, dirty) of the git work tree holding the code, or ('unknown', 'unknown')."""
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", str(where), "status", "--porcelain",
                                 "--untracked-files=no"], check=True, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"
    return commit, str(bool(status)).lower()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def content_hash(tree) -> str:
    """sha256 over the posterior arrays (names, dims, dtypes, values), independent of file
    bytes and timestamps: equal hashes mean identical draws."""
    digest = hashlib.sha256()
    dataset = tree["posterior"].to_dataset() if hasattr(tree, "children") else tree
    for name in sorted(dataset.data_vars):
        var = dataset[name]
        values = np.ascontiguousarray(var.values)
        digest.update(f"{name}|{var.dims}|{values.dtype.str}|".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def provenance_attrs(card_text: str, input_files, seed: int, diagnostics: dict) -> dict[str, str]:
    """The root attributes of a posterior file (DESIGN.md), all strings."""
    import json

    commit, dirty = git_state()
    inputs = {str(p): sha256_file(p) for p in input_files}
    versions = library_versions()
    return {
        "darkfigure_version": versions["darkfigure"],
        "run_card": card_text,
        "run_card_sha256": sha256_text(card_text),
        "input_sha256": json.dumps(inputs, sort_keys=True),
        "git_commit": commit,
        "git_dirty": dirty,
        "seed": str(seed),
        "library_versions": json.dumps(versions, sort_keys=True),
        "diagnostics": json.dumps(diagnostics, sort_keys=True),
    }
