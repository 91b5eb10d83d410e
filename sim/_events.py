"""SimPy environments of the engine (:mod:`sim.model`): :class:`CountingEnvironment` (the
full engine: SimPy's own, counting the events it schedules) and
:class:`OrderedEnvironment` (the fast path, issue 15: SimPy's event order on genealogical
keys, so that a process can start in the middle of its own event chain), with
:class:`LeanProcess`, SimPy's process with a shorter resume."""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import (
    NORMAL,
    URGENT,
    Event,
    EventPriority,
    Process,
    Timeout,
    _describe_frame,  # SimPy's own message for a bad yield
)
from simpy.resources.resource import Release, Request

INF = math.inf


class LeanProcess(Process):
    """:class:`simpy.events.Process` with a shorter resume for the fast path: the same
    steps as SimPy's ``_resume`` for a successful event (send its value, wait on the event
    yielded, or end), a cached bound callback, and SimPy's own code for a failed event."""

    def __init__(self, env: simpy.Environment, generator: Generator[Event, Any, Any]) -> None:
        self._resume_cb = self._resume
        super().__init__(env, generator)

    def _resume(self, event: Event) -> None:
        env = self.env
        env._active_proc = self
        send = self._generator.send
        while True:
            if not event._ok:  # the process handles the failure (or fails): SimPy's code
                Process._resume(self, event)
                return
            try:
                event = send(event._value)
            except StopIteration as e:
                self._ok = True
                self._value = e.args[0] if e.args else None
                env.schedule(self)
                event = None  # type: ignore[assignment]
                break
            except BaseException as e:
                self._ok = False
                e.__traceback__ = e.__traceback__.tb_next  # type: ignore[union-attr]
                self._value = e
                env.schedule(self)
                event = None  # type: ignore[assignment]
                break
            try:
                callbacks = event.callbacks
            except AttributeError:
                descr = _describe_frame(self._generator.gi_frame)  # type: ignore[attr-defined]
                raise RuntimeError(f'\n{descr}Invalid yield value "{event}"') from None
            if callbacks is not None:  # not yet processed: resume when it is
                callbacks.append(self._resume_cb)
                break
        self._target = event
        env._active_proc = None


class CountingEnvironment(simpy.Environment):
    """A :class:`simpy.Environment` that counts the events it schedules (:attr:`scheduled`).

    Every SimPy event (timeouts, process starts and ends, resource requests, conditions)
    goes through :meth:`simpy.Environment.schedule`, so the count is the number of events
    the run scheduled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scheduled = 0

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """Schedule ``event`` (see :meth:`simpy.Environment.schedule`) and count it."""
        self.scheduled += 1
        super().schedule(event, priority, delay)


#: Parent key of the events scheduled before the clock starts (process starts, ``until``)
_ROOT: tuple = ()


class OrderedEnvironment(CountingEnvironment):
    """SimPy environment of the fast path whose event order is *genealogical*, so that a
    process may start in the middle of its own event chain with exactly the place among
    simultaneous events that the full engine would give it.

    SimPy pops events by ``(time, priority, eid)`` with ``eid`` the global scheduling count.
    Every event is scheduled while another one (its *parent*) is processed, or before the
    clock starts, so ``eid`` order is: parent processed first, then order of scheduling
    within the parent's step. Here the heap key is ``(time, priority, parent key, n)``
    (``n``: rank among the events the parent's step scheduled), which sorts the same as
    ``eid`` by induction over the processed events, given that the parent's processing
    order is its key order. That holds because only events scheduled before the clock
    starts (process starts, the ``until`` stop) have the ``URGENT`` priority; during the
    run every event is ``NORMAL`` and later than or tied with its parent (so never popped
    ahead of it).

    The key depends only on the *times* of the ancestors, not on how many events other
    processes scheduled, so :meth:`schedule_chain` can give a process the key of an
    event at the end of a chain of its own timeouts that never ran (settled in numpy by
    :mod:`sim.fast`): the same key, hence the same order, as in the all-SimPy run.
    Keys hold no events (only times and ranks), so the ancestry kept alive is small.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cur: tuple = _ROOT
        self._sub = 0

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """Schedule ``event`` ``delay`` after now (see :class:`OrderedEnvironment`).

        The successful end of a process nobody waits on (a vehicle) is not queued: it would
        be processed with no callback, scheduling nothing; it keeps its rank, so the keys of
        the other events do not change. A failed process is queued (its error surfaces)."""
        sub = self._sub
        self._sub = sub + 1
        cls = event.__class__
        if (cls is LeanProcess or cls is Process) and event._ok and not event.callbacks:
            return
        self.scheduled += 1
        queue: list[Any] = self._queue
        heappush(queue, (self._now + delay, priority, self._cur, sub, event))

    def start_process(
        self, generator: Generator[Event, Any, Any], times: Sequence[float]
    ) -> Process:
        """A process whose first step runs at ``times[-1]``, placed as SimPy would place it
        after its ``Initialize`` (scheduled now, ``URGENT``) and a chain of ``NORMAL``
        events at ``times`` each scheduled alone by its predecessor's step (the vehicle's
        departure wait, or its waits and legs settled by :mod:`sim.fast`). Neither the
        ``Initialize`` nor the chain is queued: one entry, with the key the last of them
        would have. Counts one event."""
        proc = LeanProcess.__new__(LeanProcess)
        Event.__init__(proc, self)
        proc._generator = generator
        proc._resume_cb = proc._resume
        first = Event(self)
        first._ok = True
        first._value = None
        first.callbacks.append(proc._resume_cb)  # type: ignore[union-attr]
        proc._target = first
        sub = self._sub
        self._sub = sub + 1
        self.schedule_chain(first, times, parent=(self._now, URGENT, self._cur, sub))
        return proc

    def process(self, generator: Generator[Event, Any, Any]) -> Process:  # type: ignore[override]
        """A :class:`LeanProcess` of ``generator`` (as :meth:`simpy.Environment.process`)."""
        return LeanProcess(self, generator)

    def timeout(self, delay: float, value: Any = None) -> Timeout:  # type: ignore[override]
        """A :class:`simpy.events.Timeout` of ``delay``, built and queued in one call (as
        ``Timeout(env, delay, value)``: the same fields and the same key as
        :meth:`schedule` gives it)."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        ev = Timeout.__new__(Timeout)
        ev.env = self
        ev.callbacks = []
        ev._value = value
        ev._delay = delay
        ev._ok = True
        sub = self._sub
        self._sub = sub + 1
        self.scheduled += 1
        queue: list[Any] = self._queue
        heappush(queue, (self._now + delay, NORMAL, self._cur, sub, ev))
        return ev

    def schedule_chain(
        self, event: Event, times: Sequence[float], *, parent: tuple | None = None
    ) -> None:
        """Schedule ``event`` at ``times[-1]`` as the last of a chain of ``NORMAL`` events at
        ``times`` started by the event being processed (or by ``parent``, a key), each the
        only event its predecessor's step scheduled. Counts one event."""
        if parent is None:
            parent = self._cur
            sub = self._sub
            self._sub = sub + 1
        else:
            sub = 0
        for t in times[:-1]:
            parent = (t, NORMAL, parent, sub)
            sub = 0
        self.scheduled += 1
        queue: list[Any] = self._queue
        heappush(queue, (times[-1], NORMAL, parent, sub, event))

    def schedule_patience(self, event: Event, delay: float) -> tuple:
        """Schedule ``event`` ``delay`` after now with the key the first event scheduled by
        a timeout ``T`` scheduled here and now would get (a ``Condition`` on ``T``, see
        :mod:`sim._stops`); ``T`` itself is not scheduled but takes its rank among this
        step's events. Returns ``T``'s key. Counts one event."""
        self.scheduled += 1
        sub = self._sub
        self._sub = sub + 1
        t = self._now + delay
        t_key = (t, NORMAL, self._cur, sub)
        queue: list[Any] = self._queue
        heappush(queue, (t, NORMAL, t_key, 0, event))
        return t_key

    def patience(self, req: Request, max_wait: float) -> Event:
        """The event a process waits on instead of ``req | env.timeout(max_wait)`` (a queue
        with finite patience, :mod:`sim._stops`): processed where the ``Condition`` of that
        expression would be, so the process resumes at the same place among simultaneous
        events. One heap entry stands for the timeout ``T`` and the ``Condition`` ``C`` it
        triggers (``C``'s key, :meth:`schedule_patience`); when the request is processed
        first in the reference order (its key below ``T``'s), ``C`` is scheduled at the
        request's step instead, as SimPy would."""
        wake = Event(self)
        wake._ok = True
        wake._value = None
        t_key = self.schedule_patience(wake, max_wait)

        def granted(_ev: Event) -> None:
            # the request is processed: in the reference C is scheduled now unless T came
            # first in the event order (then C is T's child, the entry already in the heap)
            if wake.callbacks is None or self._cur > t_key:
                return
            moved = Event(self)
            moved._ok = True
            moved._value = None
            moved.callbacks, wake.callbacks = wake.callbacks, []
            self.schedule(moved, NORMAL)

        req.callbacks.append(granted)  # type: ignore[union-attr]
        return wake

    def peek(self) -> float:
        """Time of the next scheduled event (``inf`` when none)."""
        return self._queue[0][0] if self._queue else INF

    def step(self) -> None:
        """Process the next event (as :meth:`simpy.Environment.step`, genealogical keys)."""
        try:
            queue: list[Any] = self._queue
            now, prio, parent, sub, event = heappop(queue)
        except IndexError:
            raise EmptySchedule from None
        self._now = now
        # the key children compare by (no event in it: parent and rank make keys unique)
        self._cur = (now, prio, parent, sub)
        self._sub = 0
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:  # type: ignore[union-attr]
                callback(event)
        except StopSimulation:
            self._requeue(event, callbacks, callback)  # type: ignore[arg-type]
            raise
        if not event._ok and not hasattr(event, "_defused"):
            _raise_failure(event)

    def _requeue(self, event: Event, callbacks: list, callback: Any) -> None:
        """After a stop raised by ``callback``: queue ``event`` again with the callbacks
        still to run (as :meth:`simpy.Environment.step`)."""
        event.callbacks = callbacks[callbacks.index(callback) + 1 :]
        self.schedule(event, EventPriority(-1))

    def run(self, until: float | Event | None = None) -> Any:
        """:meth:`simpy.Environment.run` with :meth:`step` inlined in the loop (the same
        event processing; no method call per event, which is ~5 % of the fast path's loop).
        Falls back to SimPy's loop when ``until`` is an event."""
        if until is not None and isinstance(until, Event):
            return super().run(until)
        if until is not None:
            at = until if isinstance(until, int) else float(until)  # (as SimPy)
            if at <= self._now:
                raise ValueError(f"until ({at}) must be greater than the current simulation time")
            stop = Event(self)
            stop._ok = True
            stop._value = None
            stop.callbacks.append(StopSimulation.callback)  # type: ignore[union-attr]
            self.schedule(stop, URGENT, at - self._now)
        queue: list[Any] = self._queue
        pop = heappop
        try:
            while queue:
                now, prio, parent, sub, event = pop(queue)
                self._now = now
                self._cur = (now, prio, parent, sub)
                self._sub = 0
                # (the body of step, inlined: a method call per event costs ~5 % here)
                callbacks, event.callbacks = event.callbacks, None
                try:
                    for callback in callbacks:
                        callback(event)
                except StopSimulation:
                    self._requeue(event, callbacks, callback)
                    raise
                if not event._ok and not hasattr(event, "_defused"):
                    _raise_failure(event)
        except StopSimulation as exc:
            return exc.args[0]
        if until is not None:
            raise RuntimeError(
                f'No scheduled events left but "until" event was not triggered: {until}'
            )
        return None


def request(res: simpy.Resource) -> Request:
    """``Request(res)`` for a plain :class:`simpy.Resource`, SimPy's steps inlined (the fast
    path's station visits, ~2 x fewer Python calls): the request joins the queue, then, as
    ``Resource._trigger_put(None)`` (whose ``_do_put`` returns None, so only the head of the
    queue is tried), the *head* of the queue, which need not be this request, gets a free
    slot and is scheduled."""
    env = res._env
    req = Request.__new__(Request)
    req.env = env
    req.callbacks = [res._trigger_get]
    req.resource = res
    req.proc = env._active_proc
    queue = res.put_queue
    queue.append(req)
    users = res.users
    if len(users) < res.capacity:
        head = queue.pop(0)
        users.append(head)
        head.usage_since = env._now
        head._ok = True
        head._value = None
        env.schedule(head)
    return req


def release(res: simpy.Resource, req: Request) -> None:
    """``Release(res, req)`` for a plain :class:`simpy.Resource`, SimPy's steps inlined: the
    slot is freed and the release scheduled at once (its processing grants the head of the
    queue, SimPy's own ``_trigger_put``). SimPy's ``_trigger_get`` would first process the
    releases already pending; a Resource has none (each is processed as it is made), else
    SimPy's own class is used."""
    if res.get_queue:
        Release(res, req)
        return
    env = res._env
    rel = Release.__new__(Release)
    rel.env = env
    rel.callbacks = [res._trigger_put]
    rel.request = req
    rel.resource = res
    rel.proc = env._active_proc
    try:
        res.users.remove(req)
    except ValueError:
        pass
    rel._ok = True
    rel._value = None
    env.schedule(rel)


def _raise_failure(event: Event) -> None:
    """Raise a failed event's error nobody handled (a copy, caused by the original), as
    :meth:`simpy.Environment.step` does."""
    exc = type(event._value)(*event._value.args)
    exc.__cause__ = event._value
    raise exc
