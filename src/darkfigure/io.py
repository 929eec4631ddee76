"""Posterior files (NetCDF via h5netcdf) and other outputs, always written atomically.

Every file is written to a temporary name in the target directory and renamed into place, so
an interrupted fit leaves either the old file or none, never half a file. Reading a posterior
checks its provenance: the arrays must still hash to the recorded value, and each input file
is compared with the sha256 it had at fit time (a `ProvenanceWarning` if it changed).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import xarray as xr

from .errors import InputError, ProvenanceWarning
from .provenance import content_hash, sha256_file


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_figure(path: str | Path, figure, **savefig) -> None:
    """Save a matplotlib figure atomically, in the format its file name ends with."""
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip("."), **savefig)


def write_json(path: str | Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_posterior(tree: xr.DataTree, path: str | Path, attrs: dict[str, str]) -> None:
    """Write ``tree`` with provenance ``attrs`` plus the hash of its posterior arrays."""
    tree = tree.copy()
    tree.attrs = dict(attrs) | {"posterior_sha256": content_hash(tree)}
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf", mode="w")


def read_posterior(path: str | Path, check_inputs: bool = True) -> xr.DataTree:
    """Read a posterior file fully into memory and check its provenance."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such posterior file", path=path)
    try:
        with xr.open_datatree(path, engine="h5netcdf") as handle:
            tree = handle.load()
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable posterior file: {err}", path=path) from None
    recorded = tree.attrs.get("posterior_sha256")
    if recorded is None:
        raise InputError("has no provenance (posterior_sha256 missing); not written by "
                         "darkfigure", path=path)
    if content_hash(tree) != recorded:
        warnings.warn(f"{path}: posterior arrays do not match their recorded hash; the file "
                      "was modified after the fit", ProvenanceWarning, stacklevel=2)
    if check_inputs:
        for name, digest in json.loads(tree.attrs.get("input_sha256", "{}")).items():
            if not Path(name).is_file():
                warnings.warn(f"{path}: input {name} is no longer there", ProvenanceWarning,
                              stacklevel=2)
            elif sha256_file(name) != digest:
                warnings.warn(f"{path}: input {name} changed since the fit (sha256 differs); "
                              "refit before trusting this posterior", ProvenanceWarning,
                              stacklevel=2)
    return tree
