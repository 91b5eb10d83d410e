"""The two FRLM conventions that decide which round trips need which stations (see
:class:`planner.siting.FRLM`); kept apart so that importing them loads no solver."""

#: ``short_trips``: ``"free"`` (a round trip with 2L <= R needs no station; the default)
#: or ``"cycle"`` (it follows the round-trip rule like every other trip).
SHORT_TRIPS = ("free", "cycle")
#: ``origin_charge``: ``"half"`` (no free charge at the origin: the round trip is a cycle;
#: the default) or ``"full"`` (full at the origin, may return empty).
ORIGIN_CHARGE = ("half", "full")
