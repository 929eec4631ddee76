"""Shared fixtures: small capture tables written to temporary files."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "data" / "raw" / "benchmarks"


@pytest.fixture
def write_csv(tmp_path):
    """Write text to a CSV in a fresh temporary directory and return its path."""

    def write(text: str, name: str = "table.csv", raw: bytes | None = None) -> Path:
        path = tmp_path / name
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write


SMALL = """A,B,C,count
1,0,0,30
0,1,0,25
0,0,1,20
1,1,0,10
1,0,1,8
0,1,1,6
1,1,1,3
"""

STRATIFIED = """region,A,B,C,count
north,1,0,0,30
north,0,1,0,25
north,0,0,1,20
north,1,1,0,10
north,1,0,1,8
north,0,1,1,6
north,1,1,1,3
south,1,0,0,12
south,0,1,0,15
south,0,0,1,9
south,1,1,0,4
south,1,0,1,3
south,0,1,1,2
south,1,1,1,1
"""
