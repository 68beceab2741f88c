"""The overview's disk cache (data_dir/cache): same frame as the uncached overview, rows reused
while a file's bytes are unchanged, recomputed when they change, and content digests that follow
the files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import quantlib.data.overview as overview_module
from quantlib.config import Settings
from quantlib.data.fingerprint import data_fingerprint, file_digests, read_json
from quantlib.data.overview import cached_overview, overview

BUNDLED = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private copy of three bundled daily series, so that a test may rewrite one."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    for name in ("BTCUSDT-1d.csv.gz", "ETHUSDT-1d.csv.gz", "SPY-1d.csv.gz", "manifest.toml"):
        shutil.copy2(BUNDLED / name, folder / name)
    monkeypatch.setenv("QUANT_BUNDLED_DIR", str(folder))
    return Settings()


def _count_describes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    described: list[str] = []
    original = overview_module.describe_series

    def counting(info, **kwargs):  # type: ignore[no-untyped-def]
        described.append(info.path.name)
        return original(info, **kwargs)

    monkeypatch.setattr(overview_module, "describe_series", counting)
    return described


@pytest.mark.parametrize("market", ["spot", "all"])
def test_cached_overview_equals_the_overview_cold_and_warm(
    isolated_data_dir: Path, market: str
) -> None:
    expected = overview(market=market)
    cold = cached_overview(market=market)
    warm = cached_overview(market=market)  # every row read back from the JSON file
    # Exact: the same values and dtypes (timestamps keep their unit and zone, None stays None).
    pd.testing.assert_frame_equal(cold, expected, check_exact=True)
    pd.testing.assert_frame_equal(warm, expected, check_exact=True)
    assert (isolated_data_dir / "cache" / f"overview-{market}.json").is_file()


def test_rows_are_reused_until_a_file_changes(
    isolated_data_dir: Path, bundled: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    described = _count_describes(monkeypatch)
    first = cached_overview(bundled)
    assert sorted(described) == ["BTCUSDT-1d.csv.gz", "ETHUSDT-1d.csv.gz", "SPY-1d.csv.gz"]

    described.clear()
    cached_overview(bundled)
    assert described == []  # nothing read: every row came from the cache

    # Rewrite ETH with its last bar dropped: only that series is read again, and the row shows it.
    eth = bundled.bundled_dir / "ETHUSDT-1d.csv.gz"
    frame = pd.read_csv(eth)
    frame.iloc[:-1].to_csv(eth, index=False, compression="gzip")
    described.clear()
    second = cached_overview(bundled)
    assert described == ["ETHUSDT-1d.csv.gz"]
    rows = second.set_index("symbol")["rows"]
    assert rows["ETHUSDT"] == first.set_index("symbol")["rows"]["ETHUSDT"] - 1
    pd.testing.assert_frame_equal(second, overview(bundled), check_exact=True)


def test_a_touched_but_unchanged_file_keeps_its_row(
    isolated_data_dir: Path, bundled: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_overview(bundled)
    btc = bundled.bundled_dir / "BTCUSDT-1d.csv.gz"
    os.utime(btc, ns=(1, 1))  # new mtime, same bytes: the digest is computed again, and matches
    described = _count_describes(monkeypatch)
    cached_overview(bundled)
    assert described == []


def test_a_corrupt_cache_file_is_ignored_and_rewritten(
    isolated_data_dir: Path, bundled: Settings
) -> None:
    folder = isolated_data_dir / "cache"
    folder.mkdir(parents=True)
    (folder / "overview-spot.json").write_text("{not json")
    (folder / "digests.json").write_text("[1, 2]")
    pd.testing.assert_frame_equal(cached_overview(bundled), overview(bundled), check_exact=True)
    assert read_json(folder / "overview-spot.json")["version"] >= 1


def test_digests_follow_the_bytes_and_the_fingerprint_follows_the_digests(
    isolated_data_dir: Path, bundled: Settings, tmp_path: Path
) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(b"abc")
    digest = file_digests([a])[str(a)]
    # sha256("abc"), the FIPS 180-2 test vector
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    a.write_bytes(b"abd")
    assert file_digests([a])[str(a)] != digest

    before = data_fingerprint(bundled)
    assert data_fingerprint(bundled) == before  # stable
    (bundled.bundled_dir / "SPY-1d.csv.gz").unlink()  # a series removed
    assert data_fingerprint(bundled) != before
