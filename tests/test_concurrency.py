"""Racing users: exactly one completes a task, the others get a conflict, nothing half-written."""

from __future__ import annotations

import threading

import pytest

from tests import actions
from workflow import commands
from workflow.errors import Conflict


@pytest.mark.parametrize("racers", [2, 5])
def test_racing_completions_of_one_work_item(world, racers):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    users = [w.user(f"koor.dlh{i}", ("coordinator", "DLH")) for i in range(racers)]
    before = w.table_counts()
    version = w.case(sub.case_id).version

    barrier = threading.Barrier(racers)
    outcomes: list[object] = [None] * racers

    def race(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            with w.services.uow() as uow:
                commands.complete_work_item(uow, users[i], item.id, {
                    "decision": "transfer", "transfer_to": ["DPU", "DISHUB", "DINSOS", "DINKES",
                                                            "SATPOLPP"][i], "reason": f"racer {i}"})
                uow.commit()
            outcomes[i] = "done"
        except Conflict as exc:
            outcomes[i] = exc
        except Exception as exc:  # noqa: BLE001 - anything else is the failure being tested
            outcomes[i] = f"unexpected {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=race, args=(i,), daemon=True) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer never finished"

    assert outcomes.count("done") == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if o != "done"), outcomes
    winner = outcomes.index("done")

    after = w.table_counts()
    # One completion's worth of rows: three events (claimed with it, completed, transferred), one
    # new work item; nothing from the losers.
    assert after["case_events"] == before["case_events"] + 3
    assert after["work_items"] == before["work_items"] + 1
    case = w.case(sub.case_id)
    assert case.version == version + 1
    assert case.transfer_count == 1
    transfers = [e for e in w.events(sub.case_id) if e.action == "case_transferred"]
    assert [e.reason for e in transfers] == [f"racer {winner}"]
    assert w.chain_breaks() == []
