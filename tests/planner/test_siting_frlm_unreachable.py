"""FRLM built from a network with OD pairs that have no route (synthetic two-island
network): they are never refuelled, and the independent checker agrees (before: an empty
route read as a 0-km trip, refuelled for free, and the checker accepted it)."""

from __future__ import annotations

import dataclasses

import numpy as np

from planner.siting import FRLM, check_result
from tests.planner.test_corridor_optimizer import _two_islands


def test_unreachable_pairs_are_never_refuelled():
    net = _two_islands()
    # one trip 0 -> 2 (80 km; its 160-km round trip needs the station at node 1) and five
    # trips 0 -> 4, on the other island
    model = FRLM.from_network(net, [0, 0], [2, 4], [1.0, 5.0], [1], range_km=100, p=1)
    res = model.solve()
    assert res.objective == 1.0
    assert res.details["refuelled_flow"] == 1.0
    assert res.details["unreachable_flow"] == 5.0
    assert res.details["total_flow"] == 6.0
    assert list(np.asarray(res.details["covered"], bool)) == [True, False]
    assert check_result("frlm", model.raw, res).ok


def test_checker_refuses_an_unreachable_pair_claimed_refuelled():
    net = _two_islands()
    model = FRLM.from_network(net, [0, 0], [2, 4], [1.0, 5.0], [1], range_km=100, p=1)
    res = model.solve()
    res.details["covered"] = np.array([True, True])
    res = dataclasses.replace(res, objective=6.0)
    rep = check_result("frlm", model.raw, res, strict=False)
    assert not rep.ok
    assert any("disagree" in m for m in rep.violations)


def test_site_nodes_off_the_network_are_refused():
    """A candidate at a node the network does not have was opened as if it refuelled."""
    import pytest

    from planner._errors import ModelInputError
    from sim.synthetic import line_network

    net = line_network([10_000.0] * 6)
    with pytest.raises(ModelInputError, match=r"site_nodes \[99\]"):
        FRLM.from_network(net, [0], [6], [1.0], [1, 99], range_km=50.0, p=1)
