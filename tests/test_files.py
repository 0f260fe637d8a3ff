"""pma_lab.files: CSV floats written without binary noise, and read back as written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pma_lab.app.cli import main
from pma_lab.files import clean_floats, write_csv
from pma_lab.io.client import load_client
from pma_lab.paths import clients_dir

NOISY = 3 * 250.94  # 752.8199999999999
assert NOISY != 752.82


def test_nullable_float_columns_and_a_float_index_lose_their_binary_noise(tmp_path):
    """Session 20: clean_floats cleaned numpy float columns and object cells only. A
    nullable ``Float64`` column (main: ``752.8199999999999``) and a float index written
    with ``index=True`` (main: ``0.30000000000000004``) kept the noise; a MultiIndex's
    float level too. Missing cells stay missing, dtypes stay."""
    frame = pd.DataFrame({"nullable": pd.array([NOISY, None, 0.56 - 1e-16], dtype="Float64"),
                          "plain": [NOISY, np.nan, 1.0]},
                         index=pd.Index([0.1 + 0.2, 1.0, 2.0], name="k"))
    out = clean_floats(frame)
    assert out.nullable.dtype == "Float64" and out.nullable.isna().tolist() == [
        False, True, False]
    assert out.nullable.iloc[0] == 752.82 and out.nullable.iloc[2] == 0.56
    assert out.index[0] == 0.3
    assert frame.index[0] != 0.3 and frame.nullable.iloc[0] != 752.82  # the caller's frame
    write_csv(frame, tmp_path / "t.csv", index=True)
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "k,nullable,plain", "0.3,752.82,752.82", "1.0,,", "2.0,0.56,1.0"]
    two = frame.reset_index().set_index(["k", "plain"])
    write_csv(two, tmp_path / "m.csv", index=True)
    assert (tmp_path / "m.csv").read_text().splitlines()[1] == "0.3,752.82,752.82"


def test_objects_stay_objects_with_their_floats_cleaned():
    """The floats of a column of mixed cells are cleaned; a column of objects stays one
    (main: one of text alone came back as pandas' text dtype)."""
    frame = pd.DataFrame({"mixed": pd.Series([0.56 - 1e-16, "text", None], dtype=object),
                          "text": pd.Series(["a", "b", None], dtype=object)})
    out = clean_floats(frame)
    assert out.mixed.tolist() == [0.56, "text", None] and out.mixed.dtype == object
    assert out.text.dtype == object


def test_the_lots_written_by_lots_summarize_read_back_as_the_same_lots(tmp_path, capsys):
    """A lots file pma_lab wrote (``pma-lab lots summarize --out``, lots.csv) given back as
    the client's lots (``pma-lab lots validate``, ``load_client``) holds the same lots: ids,
    accounts, tickers, dates, shares and basis to the bit (decimals of up to 15 digits, as
    a custodian writes them: fractional shares; a basis written with binary noise is read
    to the cent, so it reads back the same)."""
    sample = clients_dir() / "philanthropist"
    (tmp_path / "profile.toml").write_text((sample / "profile.toml").read_text())
    rows = (sample / "lots.csv").read_text().splitlines()
    # a fractional lot, and a basis that is a product with binary noise
    rows.append(f"AAPL,2021-03-15,12.345678,{NOISY!r},PH-9001,no")
    rows.append("MSFT,2025-11-03,0.1,33.333333,PH-9002,no")
    (tmp_path / "lots.csv").write_text("\n".join(rows) + "\n")
    profile = tmp_path / "profile.toml"
    out = tmp_path / "out"
    assert main(["lots", "summarize", "--profile", str(profile), "--out", str(out)]) == 0
    assert main(["lots", "validate", str(out / "lots.csv"), "--profile", str(profile)]) == 0
    assert "OK: 52 lots" in capsys.readouterr().out
    cols = ["lot_id", "account", "ticker", "acquired", "shares", "cost_total", "inherited"]
    before = load_client(profile).lots.lots[cols].sort_values("lot_id")
    after = load_client(profile, lots_files=[out / "lots.csv"]).lots.lots[cols]
    after = after.sort_values("lot_id")
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True),
                                  check_exact=True)
    assert 752.82 in set(after.cost_total) and 12.345678 in set(after.shares)
