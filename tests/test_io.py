"""Posterior files: round trip with provenance, atomic writes, and changed-input warnings."""

import json

import numpy as np
import pytest
import xarray as xr

from darkfigure import io
from darkfigure.errors import ProvenanceWarning
from darkfigure.provenance import content_hash, provenance_attrs


def small_tree() -> xr.DataTree:
    rng = np.random.default_rng(0)
    posterior = xr.Dataset({"N": (("chain", "draw", "stratum"),
                                  rng.integers(100, 200, (2, 50, 1)))},
                           coords={"stratum": ["all"]})
    return xr.DataTree.from_dict({"posterior": posterior})


def attrs_for(input_file) -> dict[str, str]:
    return provenance_attrs("[run]\nmodel = 'loglinear'\n", [input_file], 5, {"converged": True})


def test_round_trip_keeps_draws_and_every_provenance_attribute(tmp_path, write_csv):
    source = write_csv("A,B,count\n1,0,1\n")
    tree, path = small_tree(), tmp_path / "fit.nc"
    io.write_posterior(tree, path, attrs_for(source))
    back = io.read_posterior(path)
    assert np.array_equal(back["posterior"]["N"].values, tree["posterior"]["N"].values)
    for key in ("run_card", "run_card_sha256", "input_sha256", "git_commit", "git_dirty",
                "darkfigure_version", "seed", "library_versions", "posterior_sha256"):
        assert isinstance(back.attrs.get(key), str), f"attribute {key} missing or not a string"
    assert back.attrs["posterior_sha256"] == content_hash(tree)
    assert json.loads(back.attrs["input_sha256"]) == {str(source): io.sha256_file(source)}


def test_reading_warns_when_an_input_changed_since_the_fit(tmp_path, write_csv):
    source = write_csv("A,B,count\n1,0,1\n")
    io.write_posterior(small_tree(), tmp_path / "fit.nc", attrs_for(source))
    source.write_text("A,B,count\n1,0,2\n")
    with pytest.warns(ProvenanceWarning, match="changed since the fit"):
        io.read_posterior(tmp_path / "fit.nc")


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch, write_csv):
    def crash(self, path, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"\x89HDF half a file")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", crash)
    target = tmp_path / "out" / "fit.nc"
    with pytest.raises(KeyboardInterrupt):
        io.write_posterior(small_tree(), target, attrs_for(write_csv("A,B,count\n1,0,1\n")))
    assert not target.exists(), "an interrupted write must not leave the target file"
    assert list(target.parent.iterdir()) == [], "nor any temporary file"


def test_interrupted_rewrite_keeps_the_old_file(tmp_path, monkeypatch, write_csv):
    target, source = tmp_path / "fit.nc", write_csv("A,B,count\n1,0,1\n")
    io.write_posterior(small_tree(), target, attrs_for(source))
    before = target.read_bytes()
    monkeypatch.setattr(xr.DataTree, "to_netcdf",
                        lambda self, path, **kw: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        io.write_posterior(small_tree(), target, attrs_for(source))
    assert target.read_bytes() == before, "the previous posterior must survive a failed write"


def test_content_hash_ignores_file_bytes_but_not_draws():
    a, b = small_tree(), small_tree()
    assert content_hash(a) == content_hash(b)
    b["posterior"]["N"].values[0, 0, 0] += 1
    assert content_hash(a) != content_hash(b)
