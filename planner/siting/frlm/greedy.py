"""Greedy warm start of the arc-cover FRLM (:mod:`planner.siting.frlm.arc_cover`).

:func:`greedy_open` opens, one by one, the site that lies in the most unsatisfied arc
sets, as the solvers' hint. It is the textbook greedy for set cover, written on arrays:
each arc set is an *item* of a flattened CSR list, a site's count is the number of live
items holding it, and opening a site kills the items holding it and lowers the counts of
their other sites. The earlier form recounted every pending set at every step in Python
(O(steps x entries)); on the KAZ01 corridor it was a fifth of a small study's run, in the
coverage curve's 15 solves. This one touches each entry a bounded number of times.

Ties are broken exactly as the earlier form's ``max`` over a dict filled in encounter order
(flows in order, each flow's arc sets in order, each set's sites in its iteration order):
among the sites with the highest count, the one whose first live entry comes first. The
flattened entries *are* that encounter order, so the first live entry of a site is its
lowest live entry index; a pointer per site moves forward as entries die (they never come
back). ``tests/planner/test_frlm_greedy.py`` checks the result against the earlier form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def greedy_open(
    sets: Sequence[Sequence[frozenset[int]] | None],
    fixed: Iterable[int],
    p: int | None,
    n_sites: int,
) -> set[int]:
    """Sites to open: ``fixed`` plus up to ``p`` more (``n_sites`` steps when ``p`` is None),
    each the site in the most live arc sets.

    Parameters
    ----------
    sets
        Per flow, its arc sets (the site indices that can refuel each arc), or None for a
        flow that needs no charger.
    fixed
        Sites open from the start; arc sets holding one are satisfied.
    p
        Sites to add, or None for "until every arc set is satisfied".
    n_sites
        Number of sites (the step bound when ``p`` is None).

    Returns
    -------
    set of int
        The open sites, ``fixed`` included.
    """
    open_ = set(fixed)
    # live items in encounter order, flattened: entry e holds site item_sites[e] of item
    # entry_item[e]; items already satisfied by a fixed site are left out
    sizes: list[int] = []
    flat: list[int] = []
    for s in sets:
        if s is None:
            continue
        for ks in s:
            if ks & open_:
                continue
            sizes.append(len(ks))
            flat.extend(ks)
    steps = p if p is not None else n_sites
    if not flat or steps <= 0:
        return open_
    item_sites = np.asarray(flat, dtype=np.int64)
    n_items = len(sizes)
    item_ptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(sizes, out=item_ptr[1:])
    entry_item = np.repeat(np.arange(n_items, dtype=np.int64), sizes)
    size = max(n_sites, int(item_sites.max()) + 1)
    counts = np.bincount(item_sites, minlength=size)
    # per site, its entries in ascending order (= encounter order) and a pointer to the
    # first one that may still be live
    by_site = np.argsort(item_sites, kind="stable")
    site_ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(counts, out=site_ptr[1:])
    first = site_ptr[:-1].copy()
    item_live = np.ones(n_items, dtype=bool)
    for _ in range(steps):
        top = int(counts.max())
        if top == 0:
            break
        cands = np.flatnonzero(counts == top)
        if len(cands) > 1:
            # advance each candidate's pointer past dead entries (a live one exists: its
            # count is positive), then take the candidate met first
            while True:
                dead = ~item_live[entry_item[by_site[first[cands]]]]
                if not dead.any():
                    break
                first[cands[dead]] += 1
            best = int(cands[np.argmin(by_site[first[cands]])])
        else:
            best = int(cands[0])
        open_.add(best)
        entries = by_site[site_ptr[best] : site_ptr[best + 1]]
        killed = np.unique(entry_item[entries])
        killed = killed[item_live[killed]]
        item_live[killed] = False
        starts, ends = item_ptr[killed], item_ptr[killed + 1]
        lost = item_sites[np.repeat(starts, ends - starts) + _ranges(ends - starts)]
        counts -= np.bincount(lost, minlength=size)
    return open_


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(n) for n in lengths])`` without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - offsets
