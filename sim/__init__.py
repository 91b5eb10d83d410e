"""evplan.sim: SimPy discrete-event simulation of EV trips, charging and queues."""
