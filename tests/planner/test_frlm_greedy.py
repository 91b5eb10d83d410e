"""The FRLM's greedy warm start on arrays (planner.siting.frlm.greedy) opens exactly the sites
of the earlier pure-Python form, kept here as the reference: the same sites, in the same
order of ties, on random arc-set instances (synthetic) and on the small FRLM test network."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.siting.frlm.greedy import greedy_open


def _reference_greedy_open(sets, fixed_set, p, n_sites) -> list[int]:
    """The earlier ``arc_cover._greedy_open``, unchanged but for returning the opening
    order (recounts every pending set at every step)."""
    open_ = set(fixed_set)
    order: list[int] = []
    pending = [[k for k in s if not (k & open_)] for s in sets if s is not None]
    for _ in range(p if p is not None else n_sites):
        counts: dict[int, int] = {}
        for need in pending:
            for ks in need:
                for k in ks:
                    counts[k] = counts.get(k, 0) + 1
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)
        open_.add(best)
        order.append(best)
        pending = [[ks for ks in need if best not in ks] for need in pending]
    return order


@st.composite
def instances(draw):
    n_sites = draw(st.integers(1, 25))
    site = st.integers(0, n_sites - 1)
    arc_set = st.frozensets(site, max_size=6)  # empty: an arc no site can refuel
    flow = st.one_of(st.none(), st.lists(arc_set, max_size=5))
    sets = draw(st.lists(flow, max_size=30))
    fixed = draw(st.sets(site, max_size=3))
    p = draw(st.one_of(st.none(), st.integers(0, n_sites)))
    return sets, fixed, p, n_sites


@settings(max_examples=400, deadline=None)
@given(instances())
def test_greedy_open_equals_the_reference(instance):
    sets, fixed, p, n_sites = instance
    expected = set(fixed) | set(_reference_greedy_open(sets, fixed, p, n_sites))
    assert greedy_open(sets, fixed, p, n_sites) == expected


def test_ties_go_to_the_site_met_first():
    """Every site in one set each: the reference takes the first site it meets, in the
    order of flows and sets; so must the array form (a negative control: the lowest site
    index would be 0)."""
    a, b, c = frozenset({5}), frozenset({3}), frozenset({0})
    sets = [[a], [b], None, [c]]
    assert _reference_greedy_open(sets, set(), 1, 6) == [5]
    assert greedy_open(sets, set(), 1, 6) == {5}
    # a site that gains a second set wins; after it, the tie is among the rest
    sets = [[a], [b], [frozenset({3, 0})]]
    assert _reference_greedy_open(sets, set(), 2, 6) == [3, 5]
    assert greedy_open(sets, set(), 2, 6) == {3, 5}
