"""Station choice of the fast path (``engine: fast``, issue 15): :meth:`PickMixin._pick`
replicates the built-in :class:`~sim.policies.MinDetour` (no detour cap) without building a
:class:`~sim.policies.StationChoice`, on the same arrays with the same float expressions;
any case it does not cover goes to the reference call (``_choice`` + the *where* policy).
Used by :meth:`sim._stops.StopsMixin._stops_fast`.

*Masks skipped when they cannot change the argmin.* ``MinDetour`` takes ``argmin(W)`` of a
vector ``W`` whose entries outside a set ``G`` (here: stations out of reach, or beyond the
"near" limit) are masked to inf. The pick first takes ``j = argmin(W')`` of a cheaper
``W'`` that equals ``W`` on ``G`` (same float operations) and, outside ``G``, is NaN
wherever ``W`` is NaN and otherwise ``<= W`` (``W`` is inf there, or inf + the same
wait). If ``j`` is in ``G``, ``j = argmin(W)``, with numpy's rules (the first NaN if
any, else the lowest index of the minimum):

* ``W'`` has a NaN: ``j`` is its first; ``W_j`` is NaN (``j`` in ``G``), and an earlier
  NaN of ``W`` would be one of ``W'``;
* no NaN in ``W'`` (so none in ``W``): ``W_i >= W'_i >= W'_j = W_j`` for every ``i``, and
  an ``i < j`` with ``W_i = W_j`` would give ``W'_i = W'_j``, a lower argmin of ``W'``.

Otherwise the masks are applied and the argmin taken again, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim._engine_util import RowsMixin
from sim.policies import MinDetour, StationChoice

INF = math.inf

Row = tuple[np.ndarray, np.ndarray, np.ndarray]


class PickMixin(RowsMixin):
    """The fast path's station choice and the expected waits it reads (see the module
    docstring)."""

    where: Callable[[StationChoice], int]
    _from_fin: dict[tuple[int, int, int], np.ndarray]
    _st_wait: np.ndarray
    st_plugs: list[int]

    def _fast_where(self) -> MinDetour | None:
        """The built-in *where* policy :meth:`_pick` replicates, or None (reference calls)."""
        w = self.settings.policy.where
        return w if type(w) is MinDetour and w.max_detour_s == INF else None

    def _init_waits(self) -> None:
        """Start the expected waits :meth:`_pick` reads (queue-aware :class:`MinDetour`):
        ``max(present - plugs + 1, 0) * (session_s / plugs)`` per station, as the policy
        computes them. :meth:`_occupy` updates a station's whenever its occupancy changes,
        with the same float operations (an integer count, exactly converted), instead of
        recomputing the vector at every busy decision."""
        policy = self._fast_where()
        self._wait_per_car: list[float] | None = None
        if policy is None or not policy.queue_aware:
            return
        plugs = self.st_plugs_arr
        per_car = policy.session_s / plugs
        self._st_wait = np.maximum(self.st_present - plugs + 1, 0) * per_car
        self._wait_per_car = per_car.tolist()

    def _occupy(self, s: int, delta: int) -> None:
        """Cars at station ``s`` change by ``delta`` (an arrival, a car leaving): the count
        and the expected wait: ``max(ahead, 0) * per_car``, as the policy's vector expression
        (0 * inf is nan)."""
        n = self.st_present.item(s) + delta
        self.st_present[s] = n
        per_car = self._wait_per_car
        if per_car is not None:
            ahead = n - self.st_plugs[s] + 1
            self._st_wait[s] = (ahead if ahead > 0 else 0) * per_car[s]

    def _pick(
        self,
        m: int,
        prow_cur: int,
        prow_dest: int,
        t_direct: float,
        e_direct: float,
        energy: float,
        cap: float,
        tried: set[int],
        policy: MinDetour | None,
    ) -> tuple[int, Row, Row]:
        """Station chosen by the *where* policy (-1: none) and the (time, length, energy)
        rows to and from the stations, as :meth:`_choice` + ``where`` would give them."""
        h = int(self.env.now // 3600.0) % 24 if self.settings.time_factors else 0  # _hour()
        to = self._to_rows.get((m, prow_cur, h)) or self._to_row(m, prow_cur)
        fr = self._from_rows.get((m, prow_dest, h)) or self._from_row(m, prow_dest)
        if policy is not None and t_direct < INF:
            fin_t = self._from_fin.get((m, prow_dest, h))
            if fin_t is None:
                # MinDetour's static part of "finish" (compatible, routable, the destination
                # reachable after a full charge; same expressions), folded into the time
                # from the station: inf where it fails
                lim = cap - self.reserve_soc * cap
                ok_fr = self.compat[m] & (fr[0] < INF) & (fr[2] <= lim)
                fin_t = np.where(ok_fr, fr[0], INF)
                self._from_fin[(m, prow_dest, h)] = fin_t
            # MinDetour.choose on its "finish" branch: the detour ``(t_to + t_from) -
            # t_direct`` of every station that qualifies, the same float operations; the
            # others are inf (an unreachable station's t_to is inf, and inf + x - t = inf
            # for the finite t_direct), so an empty mask shows as an inf minimum
            d_fin = to[0] + fin_t
            d_fin -= t_direct
            for i in tried:
                d_fin[i] = INF
            e_to = to[2]
            best = int(d_fin.argmin())
            # the stations out of reach (e_to > energy) are masked only when the least
            # detour is one of them: else that station is also the masked argmin
            # (module docstring), and the mask, a third of the pick's numpy work, is skipped
            reach = not e_to.item(best) > energy
            if not reach:
                d_fin[e_to > energy] = INF
                best = int(d_fin.argmin())
            d_best = d_fin.item(best)
            if d_best < INF:
                if policy.queue_aware and self.st_present.item(best) >= self.st_plugs[best]:
                    # among the stations within max_extra_detour_s of the best, the least
                    # detour + expected wait (MinDetour's np.where(near, d + wait, inf);
                    # d has no NaN here, as argmin would have returned it, so "not near"
                    # is d > limit). The argmin of d + wait over all stations is that one
                    # when it is near and in reach (module docstring); else with the masks
                    lim = d_best + policy.max_extra_detour_s
                    d_wait = d_fin + self._st_wait  # expected waits, kept up to date
                    j = int(d_wait.argmin())
                    if j in tried or e_to.item(j) > energy or d_fin.item(j) > lim:
                        if reach:
                            d_fin[e_to > energy] = INF
                        d_wait = d_fin + self._st_wait
                        d_wait[d_fin > lim] = INF
                        j = int(d_wait.argmin())
                    return j, to, fr
                return best, to, fr
        c = self._choice(m, prow_cur, prow_dest, t_direct, e_direct, energy, cap, tried)
        return int(self.where(c)), to, fr


__all__ = ["PickMixin"]
