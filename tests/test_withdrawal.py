"""Withdrawals of every size and budget (session 16).

A real sample client's lots (``philanthropist``) with its lots at a loss left out and no
cash: every sale realises a gain, so a withdrawal is paid by selling gains alone.
"""

from __future__ import annotations

import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import TransitionSettings, run_transition

SAMPLE = clients_dir() / "philanthropist"
LOSS_LOTS = ("PH-0037", "PH-0040")  # the sample's two lots at a loss on 2026-07-31


def gains_only(folder, cash: float = 0.0) -> object:
    """The sample client with no cash, no lot at a loss, no gift and no [transition]."""
    text = (SAMPLE / "profile.toml").read_text()
    text = text.replace("cash = 20000.0", f"cash = {cash!r}").split("[transition]")[0]
    text = text.replace('id = "philanthropist"', 'id = "gains-only"')
    (folder / "profile.toml").write_text(text)
    rows = (SAMPLE / "lots.csv").read_text().splitlines(keepends=True)
    (folder / "lots.csv").write_text("".join(r for r in rows
                                             if not any(i in r for i in LOSS_LOTS)))
    return prepare(load_client(folder / "profile.toml"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    s = gains_only(tmp_path_factory.mktemp("gains-only"))
    lots = s.ledger.lots(account="taxable")
    assert all(float(s.prices[lt.ticker]) * float(lt.shares) > float(lt.basis) for lt in lots)
    return s


def test_a_withdrawal_below_the_minimum_trade_is_paid_at_a_maintenance_step(setup):
    """Defect 1: once at the target, a later year's $100 withdrawal (below the $250
    minimum trade) left the step "within band" and the account $59 overdrawn (cash below
    zero for the rest of the horizon); the step now sells at least the minimum trade."""
    s = TransitionSettings(horizon_years=2, steps_per_year=4, workers=1, mc_paths=0)
    a = run_transition(setup, ["immediate:flow=-100"], s)
    run = next(r for r in a.runs if r.plan.name == "immediate:flow=-100")
    assert not run.failed
    steps = run.steps
    assert (steps.cash >= -0.01).all(), steps[["date", "status", "cash"]]
    second = steps[(steps.flow < 0) & (steps.step > 0)].iloc[0]
    assert second.phase == "maintain" and second.status != "within band"
