"""The column registry of a study's output files: every layer and table column, with its
unit and meaning. ``docs/report.md`` holds the generated text (:func:`columns_markdown`);
a test regenerates it and checks it against real output files, so the documentation
names the columns the files really have.
"""

from __future__ import annotations

from sim.kpis import KPIS

__all__ = ["LAYER_COLUMNS", "TABLE_COLUMNS", "columns_markdown", "kpis_markdown"]

_STATION = {
    "station_id": "station id (the OSM object `way/123` / `node/123`, or a generated site id)",
    "node": "index of the station's node in the routable network",
    "plugs": "plugs (charging points) at the station",
    "power_kw": "power per plug (kW)",
    "existing": "true for a station that existed before the study",
    "name": "name (OSM `name`; an unnamed OSM site is called by its kind: `unnamed amenity=fuel`)",
    "lon": "longitude (WGS84 degrees)",
    "lat": "latitude (WGS84 degrees)",
    "added_plugs": "plugs the design loop added to the station",
    "opened_round": "design-loop round that opened the station (empty: existed before)",
    # per-station figures are one run's: a review found a station with 5 plugs and no
    # session here whose plugs the other runs had all in use at once (2026-12-07); its CO2
    # was the runs' mean until a later review (94.9 kg next to 0 sessions): the seed run's
    "utilisation": "share of plug time busy charging within the measured days in the "
    "proposal's seed run (0-1; busy plug time in the window over plugs x its length). Every "
    "per-station column is that one run's (the study's trips at its seed, simulated besides "
    "the replications; with one replication, the only run); the KPIs are the mean over the "
    "replications",
    "wait_mean_min": "mean wait before charging in the seed run (min)",
    "wait_p95_min": "95th-percentile wait before charging in the seed run (min)",
    "sessions": "charging sessions of the measured days' trips in the seed run (as the "
    "stations table's)",
    "visits": "public charging visits of the measured days' trips in the seed run, charged "
    "or balked (the waits are theirs)",
    "connectors": "plug types (`GB/T`, `CCS2`, `CHAdeMO`, `Type2`, `MCS`; empty: any)",
}

#: Grid and renewable columns of station layers (planner/study/grid_step.py).
_GRID = {
    "grid_kw": "grid capacity without upgrade (kW; existing plugs count as connected)",
    "upgrade_kw": "grid upgrade bought (kW above capacity)",
    "upgrade_cost": "cost of the grid upgrade (in capex)",
    "rated_kw": "rated power per plug (kW); `power_kw` is lower under managed charging",
    "managed": "true when managed charging throttles the plugs to the grid capacity",
    "approximate": "true when the location is approximate (a plant at its town)",
    "plant": "renewable plant whose output the station's charging is matched with",
    "renewable_kwh": "charging energy (grid side) of the seed run matched hour by hour with "
    "the plant's output (kWh)",
    "renewable_share": "renewable share of the station's charging energy in the seed run (0-1)",
    "co2_kg": "CO2 of the station's charging energy in the seed run after hourly matching "
    "(kg; the sessions of the row, not the mean over the runs that `co2_charging_kg` is)",
}

#: Truck bay columns of station layers (studies with ``candidates.truck_bays``: one row per
#: bay class at a site, existing stations included; docs/cargo.md).
_BAYS = {
    "plug_class": "truck bay class of the row (`candidates.truck_bays`, e.g. `mcs`)",
    "bay_cost": "cost per bay of the row's class",
    "bay_draw_kw": "grid draw per bay of the class (kW)",
    "draw_kw": "grid draw of the row's bays (kW)",
    "site_draw_kw": "grid draw of all bay classes at the site's node (kW)",
}

#: Vehicle-matrix figures (each ``_before`` and ``_after`` the proposal); truck figures only
#: for truck models (docs/cargo.md).
_MATRIX = {
    "share": "share of the study's trips completed when all of them are driven by the model "
    "(a fleet of it alone, so its own queues count; one simulation run, no interval; 0-1)",
    "share_public": "of those trips, the ones that relied on public charging (charged on the "
    "way, or stranded with no charger in range or at a queue): share completed (0-1; NaN "
    "when none relied on one)",
    "stranded": "stranded vehicles of that one-model fleet",
    "stops_per_trip": "trucks: public charging stops per completed trip",
    "break_h_per_trip": "trucks: breaks the driving rules added per trip (h)",
    "rest_h_per_trip": "trucks: daily rests the driving rules added per trip (h)",
    "added_h_vs_diesel": "trucks: door-to-door time minus a diesel truck's (h)",
    "co2_ev_kg_per_100km": "trucks: well-to-wheel CO2 of the e-truck per 100 route km (kg)",
    "co2_diesel_kg_per_100km": "trucks: well-to-wheel CO2 of a diesel truck (kg/100 km)",
}

#: Layer -> column -> description (GeoPackage layers, GeoJSON and CSV twins).
LAYER_COLUMNS: dict[str, dict[str, str]] = {
    "roads": {
        "u": "OSM id (or network id) of the edge's first node",
        "v": "OSM id (or network id) of the edge's last node",
        "osmid": "OSM way id(s), `;`-joined when osmnx merged ways",
        "highway": "OSM `highway` class(es)",
        "name": "OSM street name",
        "ref": "road number (`KAZ01`, `E125`, ...)",
        "oneway": "OSM `oneway`",
        "maxspeed": "OSM `maxspeed`",
        "length_m": "length along the road shape (m)",
        "speed_kph": "speed used for routing (km/h)",
        "time_s": "free-flow travel time (s)",
    },
    "demand": {
        "node": "network node index",
        "weight": "trips starting here on the measured days (warm-up days left out)",
        "kind": "`trip_origin`",
        "name": "place name (corridor studies)",
        "lon": "longitude",
        "lat": "latitude",
    },
    "candidates": {
        "site_id": "candidate id (OSM object, `place/…`, `road/…` or `extra/…`)",
        "name": "name (an unnamed OSM site is called by its kind: `unnamed amenity=fuel`)",
        "kind": "what the site is (`fuel`, `parking`, `hotel`, `place`, `road`, `renewable`, …)",
        "lon": "longitude",
        "lat": "latitude",
        "node": "network node the site is snapped to",
        "snap_m": "snap distance to the network (m)",
        "renewable": "true for a site at a renewable plant",
        "site_cost": "cost of opening the site",
        "plug_cost": "cost per plug",
        "power_kw": "power per plug (kW)",
        "max_plugs": "most plugs the site can take",
        "connectors": "plug types a station there would offer (empty: any)",
        "grid_kw": "grid capacity of the site without upgrade (kW; empty: no limit)",
        "upgrade_cost_per_kw": "price of each kW of grid upgrade (empty: cannot be upgraded)",
        "approximate": "true when the site's location is approximate (a plant at its town)",
        "plant": "key of the renewable plant the site stands at (empty: none)",
        "location_source": "where the site's location comes from",
    },
    "existing": {**_STATION, **_GRID, **_BAYS},
    "selected": {
        **_STATION,
        "renewable": "true for a station at a renewable plant",
        "capex": "site cost plus its plugs' cost",
        "sessions_per_day": "charging sessions per simulated day",
        "opening_year": "year of the rollout stage that opens the station (staged studies)",
        **_GRID,
        **_BAYS,
    },
}

#: Table (``tables/<name>.parquet``, ``_before``/``_after`` suffixes) -> column -> description.
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "trips": {
        "trip_id": "trip id",
        "vehicle_id": "vehicle id",
        "vehicle_model": "catalogue key of the vehicle model",
        "origin": "origin node index",
        "destination": "destination node index",
        "depart_s": "planned departure (s from the start of the simulation)",
        "chain_seq": "position of the trip in the vehicle's chain of the day",
        "day": "simulated day",
        "purpose": "trip purpose (`work`, `other`, `home`, …)",
        "origin_zone": "origin zone (district)",
        "destination_zone": "destination zone",
        "departed_s": "actual departure (s)",
        "arrived_s": "arrival (s; empty when not completed)",
        "status": "`completed`, `stranded`, `abandoned` (gave up a queue with nothing else in "
        "reach), `unroutable`, `cancelled`",
        "strand_cause": "why a trip stranded or was abandoned: `no_charger_in_range`, "
        "`queue_abandoned`, `started_below_reach`; `no_road_path` on an `unroutable` trip "
        "and the trips it cancelled (empty otherwise)",
        "measured": "true for a trip the KPIs count: it departs in the measured days "
        "(false: a warm-up or cool-down day's trip, simulated so that the measured days meet "
        "traffic; its charging within the measured days still counts in utilisation). Every "
        "simulated trip is a row: filter on this column for the measured trips",
        "distance_km": "distance driven (km)",
        "direct_km": "distance of the direct route (km)",
        "detour_km": "extra distance to charge (km)",
        "energy_kwh": "energy used (kWh)",
        "soc_depart": "state of charge at departure (0-1)",
        "soc_arrive": "state of charge on arrival (0-1)",
        "charging_stops": "public charging stops on the trip",
        "wait_s": "time waiting for a plug (s)",
        "charge_s": "time charging (s)",
        "delay_s": "arrival delay against driving straight (s)",
        "break_s": "breaks the driving-time rules added (s; trucks under AETR, else 0)",
        "rest_s": "daily rests the driving-time rules added (s)",
        "flow": "corridor / freight flow (`passenger`, `cargo`; `import`, `export`, `transit`)",
        "origin_place": "origin place or border post (corridor and freight studies)",
        "destination_place": "destination place or border post",
        "origin_lon": "origin longitude",
        "origin_lat": "origin latitude",
        "destination_lon": "destination longitude",
        "destination_lat": "destination latitude",
    },
    "sessions": {
        "vehicle_id": "vehicle id",
        "vehicle_model": "catalogue key of the vehicle model",
        "trip_id": "trip the stop belongs to (empty for home charging)",
        "station": "station index (-1 = home or depot, -2 = overnight recovery of a stranded car)",
        "station_id": "station id",
        "kind": "`public`, `home`, `depot` or `recovery`",
        "measured": "true for a stop of a trip the KPIs count (its trip's `measured`; false: "
        "a warm-up or cool-down day's trip's stop). Every simulated session is a row: the "
        "counts (sessions, visits, waits, energy) take the measured ones, utilisation the "
        "plug time of every charged public session within the measured days "
        "(`manifest.json` `measured_window_s`)",
        "status": "`charged` or `balked` (left the queue)",
        "arrive_s": "arrival at the station (s)",
        "start_s": "start of charging (s)",
        "end_s": "end of charging (s)",
        "wait_s": "wait for a plug (s)",
        "charge_s": "charging time (s)",
        "energy_kwh": "energy into the battery (kWh)",
        "grid_kwh": "energy from the grid (kWh, charging losses included)",
        "soc_start": "state of charge at plug-in (0-1)",
        "soc_end": "state of charge at unplug (0-1)",
        "avg_power_kw": "mean charging power (kW)",
        "queue_seq": "arrival order at the station",
        "detour_s": "extra driving time to reach the station (s)",
        "detour_km": "extra distance to reach the station (km)",
        "lon": "station longitude (empty for home charging)",
        "lat": "station latitude",
    },
    "stations": {
        # (no `connectors`: the simulator's station table leaves the plug types out)
        **{
            k: v
            for k, v in _STATION.items()
            if k not in ("added_plugs", "opened_round", "connectors")
        },
        "dc": "true for a DC (fast) station",
        "visits": "vehicles that came to charge",
        "balked": "vehicles that left the queue",
        "energy_kwh": "energy delivered (kWh)",
        "busy_h": "plug-hours busy charging",
        "peak_busy_plugs": "most plugs busy at once",
        "peak_kw": "highest power drawn (kW)",
    },
    "station_energy": {
        "station_id": "station id",
        "plant": "renewable plant matched with the station (empty: none within the radius)",
        "plant_km": "distance to that plant (km)",
        "plant_approximate": "the plant stands at its town's point (no plant point found): "
        "the distance is to the town",
        "energy_kwh": "public charging energy drawn at the charger in the seed run (kWh, "
        "losses included; the station rows' run: the KPIs `co2_charging_kg`, "
        "`energy_renewable_kwh` are the mean over the runs)",
        "renewable_kwh": "part of it matched hour by hour with the plant's output (kWh)",
        "grid_kwh": "part of it from the grid (kWh)",
        "renewable_share": "renewable share (0-1)",
        "co2_kg": "CO2 of the grid part at the (hourly) grid factor, grid losses added (kg)",
    },
    "vehicle_matrix": {
        "year": "staged studies only: the stage year whose demand and stations the rows "
        "simulate (the last stage)",
        "vehicle_model": "compared vehicle model",
        "season": "season name (`simulation.seasons`)",
        "temperature_c": "ambient temperature of the season (C)",
        **{
            f"{name}_{when}": f"{text}, {when} the proposal"
            for name, text in _MATRIX.items()
            for when in ("before", "after")
        },
        "trips_feasible_share": "share of trips completed with the proposal (0-1)",
        "probe_vehicles": "`vehicles.compare_as: probe` only: the vehicles that drive the "
        "model among the study's fleet, whose trips the shares count",
    },
    "vehicle_models": {
        "vehicle_model": "catalogue key",
        "name": "model name",
        "role": "what the study used it for: its fleet share, the truck, compared",
        "category": "vehicle category (`car`, `van`, `truck`, `bus`)",
        "chemistry": "cell chemistry (`NMC`, `LFP`: default cold tables)",
        "battery_kwh": "usable battery capacity at 20 C (kWh)",
        "consumption_kwh_per_km": "battery-side consumption at the reference speed, mild "
        "weather (kWh/km)",
        "max_ac_kw": "on-board AC charger (kW)",
        "max_dc_kw": "peak of the DC charging curve (kW; 0 without DC)",
        "connectors": "inlet standards, `;`-separated",
        "preconditioning": "the model can heat its pack before DC charging (used when "
        "`simulation.precondition` is on)",
        "user_defined": "true when not evplan's built-in model of that key (a user "
        "catalogue's, or one that replaced a built-in)",
        "source": "where the figures come from",
    },
    "rollout_timeline": {
        "method": "staged plan (`myopic` design loop year by year, `lookahead`, or `robust`: "
        "the robust first stage, then the best later stages after it)",
        "year": "stage year",
        "trips": "the stage's trips in the measured days (warm-up days excluded, as in the "
        "KPI table; the whole fleet's, scaled up from a sample)",
        "trips_simulated": "trips simulated (fewer than `trips` when `demand.max_trips` samples)",
        "new_sites": "sites opened in the stage (a truck site counts once, not once per bay class)",
        "new_plugs": "plugs added in the stage (new sites and existing stations)",
        "capex": "capital cost of the stage",
        "cumulative_capex": "capital cost up to and including the stage",
        "wait_p95_min": "95th percentile wait (min; a sample's queues when sampled)",
        "stranded_vehicles": "stranded vehicles (scaled to the fleet when sampled)",
        "share_trips_completed": "share of the trips completed (0-1)",
        "targets_met": "the stage meets its service targets on the whole fleet (false when "
        "missed, or when a sample cannot confirm them)",
    },
    "rollout_robust": {
        "choice": "candidate first stage (the optimum of one scenario)",
        "sites": "its new sites",
        "<scenario>_objective": "trips covered or refuelled over the stages in that scenario",
        "<scenario>_regret": "that scenario's best objective minus this one's",
        "max_regret": "largest regret over the scenarios (the robust choice minimises it)",
    },
    "rollout_vehicles": {
        "method": "the plan simulated (`robust`, `lookahead` or `myopic`: the one the study "
        "reports)",
        "year": "stage year",
        "vehicle_model": "compared vehicle model",
        "season": "season name (`simulation.seasons`)",
        "temperature_c": "ambient temperature of the season (C)",
        "share_trips_completed": "share of the stage's trips completed when all of them are "
        "driven by the model (a fleet of it alone; probe: the probe vehicles' trips), with "
        "the plan of that year (0-1; one simulation run, no interval)",
        "share_public_trips_completed": "of those trips, the ones that relied on public "
        "charging: share completed (0-1; NaN when none did)",
        "sampled_1_in": "1: the stage's whole fleet simulated; N: a sample of 1 in N trips "
        "(`demand.max_trips`), whose queues are the sample's",
        "probe_vehicles": "`vehicles.compare_as: probe` only: the stage's vehicles that drive "
        "the model among its fleet, whose trips the shares count",
    },
    "vehicles": {
        "vehicle_id": "vehicle id",
        "vehicle_model": "catalogue key of the vehicle model",
        "category": "vehicle category (`car`, `van`, `truck`, `bus`)",
        "home_charging": "true for a vehicle with a home or depot charger",
        "capacity_kwh": "usable battery capacity at the run's temperature (kWh)",
        "energy_start_kwh": "energy in the battery at the start (kWh)",
        "charged_kwh": "energy charged over the run, home and recovery included (kWh)",
        "consumed_kwh": "energy used driving (kWh)",
        "energy_end_kwh": "energy in the battery at the end (kWh)",
        "stranded": "true when stranded or abandoned at least once",
        "stranded_s": "time of the last stranding (s; empty: never)",
        "strandings": "times stranded or abandoned",
        "strand_cause": "cause of the last stranding (as `trips.strand_cause`)",
        "km": "distance driven over the run, warm-up days included (km)",
        "trips": "trips in the vehicle's chains (whole run)",
        "trips_completed": "trips completed (whole run)",
    },
    "station_timeseries": {
        "station_id": "station id",
        "t_s": "start of the time bin (s)",
        "busy_plugs": "mean plugs busy in the bin",
        "utilisation": "busy share of the plugs (0-1); the bins cover the measured days",
        "queue": "mean vehicles waiting",
        "power_kw": "mean power (kW)",
        "energy_kwh": "energy delivered in the bin (kWh)",
        "arrivals": "vehicles arriving in the bin (any trip's: a time measure, so a warm-up "
        "trip's arrivals in the measured days count and a measured trip's after them do not)",
        "balked": "vehicles leaving the queue in the bin (as arrivals)",
    },
}


def _table(rows: dict[str, str]) -> list[str]:
    return ["| column | meaning |", "|---|---|", *(f"| `{k}` | {v} |" for k, v in rows.items())]


def columns_markdown() -> str:
    """The layer and table columns as Markdown (the generated part of docs/report.md)."""
    lines = ["### GeoPackage layers (also the GeoJSON / CSV files)", ""]
    for layer, cols in LAYER_COLUMNS.items():
        lines += [f"`{layer}`", "", *_table(cols), ""]
    lines += ["### Tables (`tables/<name>_before|_after.parquet`, `.csv`, `.geoparquet`)", ""]
    for table, cols in TABLE_COLUMNS.items():
        lines += [f"`{table}`", "", *_table(cols), ""]
    return "\n".join(lines).rstrip() + "\n"


def kpis_markdown() -> str:
    """The KPI registry as Markdown: name, label, unit, better direction."""
    lines = ["| KPI | label | unit | better |", "|---|---|---|---|"]
    for k in KPIS.values():
        unit = "share (0-1, shown in %)" if k.unit == "share" else k.unit
        lines.append(f"| `{k.name}` | {k.label} | {unit} | {k.better or '—'} |")
    return "\n".join(lines) + "\n"
