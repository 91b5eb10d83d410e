"""Validation of the two input tables of :func:`sim.simulate`.

Stations table (one row per station; a station is a bank of identical plugs):

=============  =======  ===========================================================
column         type     meaning
=============  =======  ===========================================================
station_id     any      unique id (kept in results)
node           int      road-network node *index* (0..n_nodes-1)
plugs          int      number of plugs (1 to MAX_PLUGS), i.e. the SimPy Resource capacity
power_kw       float    power per plug (kW, > 0)
existing       bool     optional; an existing station (kept in results)
name           str      optional
lon, lat       float    optional; used by :func:`prepare_stations` to snap rows
                        without ``node``
dc             bool     optional; default ``power_kw > settings.ac_dc_threshold_kw``
connectors     str      optional; ``"CCS2;CHAdeMO"``; missing/empty = any connector
=============  =======  ===========================================================

Trips table (one row per trip leg):

=============  =======  ===========================================================
vehicle_id     any      vehicle the leg belongs to
vehicle_model  str      catalogue key
origin         int      node index where the leg starts
destination    int      node index where it ends (= next leg's origin)
depart_s       float    planned departure, seconds from the start of day 0
chain_seq      int      order of the leg in the vehicle's chain
initial_soc    float    optional; starting state of charge of the vehicle (first leg)
=============  =======  ===========================================================

Extra columns are kept and passed through to ``result.trips``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from networks.road_network import RoadNetwork
from networks.validate import not_wgs84
from sim._checks import node_values, require_frame, require_network
from sim._errors import DemandError, StationError, StationOffNetworkError
from sim.catalogue import resolve_models
from sim.connectors import check_connectors, station_connectors, unknown_connector_hint
from sim.vehicles import VehicleModel

logger = logging.getLogger(__name__)

STATION_COLUMNS = ["station_id", "node", "plugs", "power_kw", "existing", "name", "lon", "lat"]
#: The columns a stations table must have (the others are optional)
REQUIRED_STATION_COLUMNS = STATION_COLUMNS[:4]
TRIP_COLUMNS = ["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"]


def prepare_stations(
    network: RoadNetwork, stations: pd.DataFrame, *, max_snap_m: float = 500.0
) -> pd.DataFrame:
    """Fill a missing/NaN ``node`` from ``lon``/``lat`` by snapping to the network.

    Parameters
    ----------
    network : RoadNetwork
        Road network to snap to.
    stations : DataFrame
        Stations table (:data:`STATION_COLUMNS`); rows with a ``node`` keep it (it must be
        a node index of ``network``), rows without one need ``lon``/``lat``.
    max_snap_m : float
        Farthest a station may lie from its nearest node (metres).

    Returns
    -------
    DataFrame
        A copy of ``stations`` with an integer ``node`` in every row.

    Raises
    ------
    StationError
        ``stations`` is not a DataFrame.
    StationOffNetworkError
        A given ``node`` is not a node index of ``network``; a station lies farther than
        ``max_snap_m`` from every node, or has neither node nor coordinates.
    """
    require_network(network)
    require_frame(stations, name="stations", columns=REQUIRED_STATION_COLUMNS, error=StationError)
    df = stations.copy()
    if "node" not in df.columns:
        df["node"] = np.nan
    need = df["node"].isna().to_numpy()
    label = (
        df["station_id"]
        if "station_id" in df
        else pd.Series([f"row {i}" for i in range(len(df))], index=df.index, name="row")
    )
    if not need.all():  # a node given is checked as simulate checks it (not passed on blindly)
        df["node"] = df["node"].astype(object)
        given = _station_nodes(network, df.loc[~need, "node"], label[~need])
        df.loc[~need, "node"] = given.to_numpy()
    if need.any():
        if not {"lon", "lat"} <= set(df.columns):
            ids = label[need].tolist()[:5]
            raise StationOffNetworkError(
                f"station(s) {ids} have no 'node' and no lon/lat to snap; give a node index or coordinates"
            )
        # WGS84 degrees: blanks, text and values outside the globe, named by station
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
        bad = need & not_wgs84(lon, lat)
        if bad.any():
            items = [
                f"{s!r} (lon={x!r}, lat={y!r})"
                for s, x, y in zip(label[bad], df.loc[bad, "lon"], df.loc[bad, "lat"], strict=True)
            ][:5]
            raise StationOffNetworkError(
                f"station(s) without a 'node' need WGS84 lon in [-180, 180] and lat in [-90, 90] "
                f"to be snapped: {', '.join(items)}; give a node index or fix the coordinates"
            )
        res = network.snap(
            df.loc[need, "lon"].to_numpy(float),
            df.loc[need, "lat"].to_numpy(float),
            max_distance_m=max_snap_m,
        )
        if not res.within.all():
            rows = df.loc[need].iloc[np.flatnonzero(~res.within)]
            items = [
                f"{r.get('station_id', i)!r} at ({r['lon']:.5f}, {r['lat']:.5f}) is {d:.0f} m away"
                for (i, r), d in zip(rows.iterrows(), res.distance_m[~res.within], strict=True)
            ]
            raise StationOffNetworkError(
                f"{len(items)} station(s) lie farther than {max_snap_m:.0f} m from road network "
                f"{network.name!r}: {'; '.join(items[:5])}. Move them onto the network or raise the snap limit."
            )
        df.loc[need, "node"] = res.node
    df["node"] = df["node"].astype(np.int64)
    return df


#: Most plugs one station may have: far above any real hub (the largest have a few hundred),
#: low enough that a unit slip (1e20) is an error, not an integer overflow.
MAX_PLUGS = 100_000


def validate_stations(
    network: RoadNetwork, stations: pd.DataFrame | None, *, ac_dc_threshold_kw: float
) -> pd.DataFrame:
    """Check the stations table and return a normalised copy (adds ``dc``, ``connectors``)."""
    require_network(network)
    if stations is None or (isinstance(stations, pd.DataFrame) and len(stations) == 0):
        return pd.DataFrame(
            {c: pd.Series(dtype=object) for c in [*STATION_COLUMNS, "dc", "connectors"]}
        )
    require_frame(
        stations,
        name="stations",
        columns=REQUIRED_STATION_COLUMNS,
        error=StationError,
        note="; None means no public charging",
    )
    missing = [c for c in REQUIRED_STATION_COLUMNS if c not in stations.columns]
    if missing:
        raise StationError(
            f"stations table lacks column(s) {missing}; required: station_id, node, plugs, power_kw"
        )
    df = stations.reset_index(drop=True).copy()
    blank_id = df["station_id"].isna() | (df["station_id"].astype(str).str.strip() == "")
    if blank_id.any():
        raise StationError(
            f"stations table: station_id is blank in row(s) {np.flatnonzero(blank_id)[:5].tolist()}; "
            "every station needs an id (it names the station in every table)"
        )
    if df["station_id"].duplicated().any():
        dup = df.loc[df["station_id"].duplicated(), "station_id"].tolist()[:5]
        raise StationError(f"stations table has duplicate station_id(s) {dup}; ids must be unique")
    df["node"] = _station_nodes(network, df["node"], df["station_id"])
    for col, kind in (
        ("plugs", f"an integer from 1 to {MAX_PLUGS:,}"),
        ("power_kw", "a number > 0 (kW per plug)"),
    ):
        v = pd.to_numeric(df[col], errors="coerce")
        is_bool = df[col].map(lambda x: isinstance(x, bool | np.bool_)).to_numpy(bool)
        badv = (
            v.isna()
            | ~np.isfinite(v)
            | (v <= 0)
            | is_bool  # True is not one plug
            | (((v != np.floor(v)) | (v > MAX_PLUGS)) if col == "plugs" else False)
        )
        if badv.any():
            items = [
                f"{s!r} ({col}={x!r})"
                for s, x in zip(df.loc[badv, "station_id"], df.loc[badv, col], strict=True)
            ][:5]
            raise StationError(
                f"stations table: column {col!r} must be {kind}; bad rows: {', '.join(items)}"
            )
        df[col] = v.astype(np.int64 if col == "plugs" else float)
    if "dc" in df.columns:
        # true/false (or 1/0); blank = by power. Any other value (e.g. "no", which astype
        # would turn into True) is refused rather than guessed
        given = df["dc"]
        ok = given.isna() | given.map(lambda x: isinstance(x, (bool, np.bool_)) or x in (0, 1))
        if not ok.all():
            items = [
                f"{s!r} (dc={x!r})"
                for s, x in zip(df.loc[~ok, "station_id"], given[~ok], strict=True)
            ][:5]
            raise StationError(
                "stations table: column 'dc' must be true/false (or 1/0, blank = decided by "
                f"power_kw > {ac_dc_threshold_kw:g} kW); bad rows: {', '.join(items)}"
            )
        df["dc"] = given.astype(object).where(given.notna(), df["power_kw"] > ac_dc_threshold_kw)
        df["dc"] = df["dc"].astype(bool)
    else:
        df["dc"] = df["power_kw"] > ac_dc_threshold_kw
    if "connectors" in df.columns:
        df["connectors"] = [_connector_set(c) for c in df["connectors"]]
        bad = {
            str(sid): [c for c in sorted(cs) if unknown_connector_hint(c) is not None]
            for sid, cs in zip(df["station_id"], df["connectors"], strict=True)
            if cs and check_connectors(sorted(cs))
        }
        if bad:
            names = sorted({c for cs in bad.values() for c in cs})
            where = "; ".join(f"{sid!r}: {', '.join(cs)}" for sid, cs in list(bad.items())[:5])
            more = f" and {len(bad) - 5} more stations" if len(bad) > 5 else ""
            raise StationError(
                f"stations table: column 'connectors' has {check_connectors(names)} (a car "
                f"could never use such a plug); at {where}{more}"
            )
    else:
        df["connectors"] = [None] * len(df)
    for col, default in (("existing", False), ("name", ""), ("lon", np.nan), ("lat", np.nan)):
        if col not in df.columns:
            df[col] = (
                network.lon[df["node"]]
                if col == "lon"
                else (network.lat[df["node"]] if col == "lat" else default)
            )
    return df


def _station_nodes(network: RoadNetwork, nodes: pd.Series, labels: pd.Series) -> pd.Series:
    """``nodes`` as int64 node indices of ``network``.

    Parameters
    ----------
    network : RoadNetwork
        The road network the stations must be on.
    nodes : Series
        The stations' ``node`` values as given.
    labels : Series
        The stations' ids (aligned with ``nodes``), to name the bad ones.

    Raises
    ------
    StationOffNetworkError
        A value is blank, not a whole number or out of ``0..n_nodes - 1``; names up to five
        stations with their node.
    """
    node, rows = node_values(nodes, network.n_nodes)  # rows by position: the index may repeat
    if rows.any():
        items = [
            f"{s!r} (node={n!r})" for s, n in zip(labels.iloc[rows], nodes.iloc[rows], strict=True)
        ][:5]
        raise StationOffNetworkError(
            f"{int(rows.sum())} station(s) are off road network {network.name!r} "
            f"(valid node indices 0..{network.n_nodes - 1}): {', '.join(items)}. "
            "Give a valid node index, or leave node blank and give lon/lat for "
            "sim.prepare_stations to snap (or snap with RoadNetwork.snap_strict)."
        )
    return node.astype(np.int64)


def _connector_set(value) -> frozenset[str] | None:
    return station_connectors(value) or None


def validate_trips(
    network: RoadNetwork, trips: pd.DataFrame, vehicles: dict[str, VehicleModel]
) -> pd.DataFrame:
    """Check the trips table; return it sorted by vehicle and ``chain_seq`` with a
    ``trip_id`` column (the input row position)."""
    require_network(network)
    require_frame(trips, name="trips", columns=TRIP_COLUMNS, error=DemandError)
    missing = [c for c in TRIP_COLUMNS if c not in trips.columns and c != "chain_seq"]
    if missing:
        raise DemandError(f"trips table lacks column(s) {missing}; required: {TRIP_COLUMNS}")
    if len(trips) == 0:
        raise DemandError(
            "trips table is empty; generate demand (sim.demand) or check the OD table / filters"
        )
    df = trips.reset_index(drop=True).copy()
    df.insert(0, "trip_id", np.arange(len(df), dtype=np.int64))
    if "chain_seq" not in df.columns:
        df["chain_seq"] = (
            df.groupby("vehicle_id", sort=False)["depart_s"].rank(method="first").astype(np.int64)
            - 1
        )
    for col in ("origin", "destination"):
        df[col] = trip_nodes(network, df, col)
    dep = pd.to_numeric(df["depart_s"], errors="coerce")
    if dep.isna().any() or (dep < 0).any() or not np.isfinite(dep).all():
        rows = np.flatnonzero((dep.isna() | (dep < 0) | ~np.isfinite(dep)).to_numpy())[:5]
        raise DemandError(
            f"trips table: depart_s must be finite seconds >= 0; bad rows {rows.tolist()}"
        )
    df["depart_s"] = dep.astype(float)
    blank = df["vehicle_id"].isna().to_numpy()
    if blank.any():
        rows = np.flatnonzero(blank)[:5]
        raise DemandError(f"trips table: vehicle_id is blank in rows {rows.tolist()}")
    seq_ok = np.isfinite(pd.to_numeric(df["chain_seq"], errors="coerce").to_numpy(dtype=float))
    if not seq_ok.all():
        rows = np.flatnonzero(~seq_ok)[:5]
        raise DemandError(
            f"trips table: chain_seq must be a number (the leg's place in its vehicle's "
            f"chain); bad rows {rows.tolist()} = {df['chain_seq'].iloc[rows].tolist()}"
        )
    df["vehicle_model"] = df["vehicle_model"].astype(str)
    resolve_models(df["vehicle_model"].unique(), vehicles)
    per_vehicle = df.groupby("vehicle_id", sort=False)["vehicle_model"].nunique()
    if (per_vehicle > 1).any():
        raise DemandError(
            f"trips table: vehicle(s) {per_vehicle[per_vehicle > 1].index.tolist()[:5]} "
            "use more than one vehicle_model; a vehicle has one model"
        )
    if "initial_soc" in df.columns:
        raw = df["initial_soc"]
        s = pd.to_numeric(raw, errors="coerce")
        # blank stays blank (drawn); text that is not a number is an error, not a blank
        bad = (s < 0) | (s > 1) | (s.isna() & raw.notna() & (raw.astype(str).str.strip() != ""))
        if bad.any():
            shown = ", ".join(f"index {i} = {v!r}" for i, v in raw[bad].head(5).items())
            raise DemandError(
                f"trips table: initial_soc must be a state of charge in [0, 1] (0.8 = 80 %) "
                f"or blank; bad value(s): {shown}"
            )
        df["initial_soc"] = s
    if not _chain_sorted(df):
        df = df.sort_values(["vehicle_id", "chain_seq", "depart_s"], kind="stable").reset_index(
            drop=True
        )
    same = df["vehicle_id"].to_numpy()[1:] == df["vehicle_id"].to_numpy()[:-1]
    if (same & (df["chain_seq"].to_numpy()[1:] == df["chain_seq"].to_numpy()[:-1])).any():
        i = int(
            np.flatnonzero(
                same & (df["chain_seq"].to_numpy()[1:] == df["chain_seq"].to_numpy()[:-1])
            )[0]
        )
        raise DemandError(
            f"trips table: vehicle {df['vehicle_id'].iloc[i]!r} has chain_seq "
            f"{df['chain_seq'].iloc[i]!r} twice; chain_seq must be unique per vehicle"
        )
    broken = same & (df["origin"].to_numpy()[1:] != df["destination"].to_numpy()[:-1])
    if broken.any():
        i = int(np.flatnonzero(broken)[0])
        raise DemandError(
            f"trips table: vehicle {df['vehicle_id'].iloc[i]!r} ends leg chain_seq={df['chain_seq'].iloc[i]!r} "
            f"at node {df['destination'].iloc[i]} but starts chain_seq={df['chain_seq'].iloc[i + 1]!r} at node "
            f"{df['origin'].iloc[i + 1]}; a chain must be continuous ({int(broken.sum())} break(s) in total). "
            "Give each disconnected trip its own vehicle_id."
        )
    late = same & (df["depart_s"].to_numpy()[1:] < df["depart_s"].to_numpy()[:-1])
    if late.any():
        logger.warning(
            "%d leg(s) are planned to depart before the previous leg; they leave on arrival",
            int(late.sum()),
        )
    return df


def trip_nodes(network: RoadNetwork, trips: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` (``origin``/``destination``) of a trips table as node indices of
    ``network``; :class:`DemandError` naming rows and values when a value is not one."""
    if col not in trips.columns:
        raise DemandError(f"trips table lacks column {col!r}; required: {TRIP_COLUMNS}")
    v, bad = node_values(trips[col], network.n_nodes)
    if bad.any():
        rows = np.flatnonzero(bad)[:5]
        raise DemandError(
            f"trips table: {int(bad.sum())} {col} value(s) are not node indices of network "
            f"{network.name!r} (0..{network.n_nodes - 1}), e.g. rows {rows.tolist()} = "
            f"{trips[col].iloc[rows].tolist()}; convert OSM ids with RoadNetwork.index_of or "
            "zones with sim.demand"
        )
    return v.to_numpy().astype(np.int64)


def _chain_sorted(df: pd.DataFrame) -> bool:
    """Whether rows are already in (vehicle_id, chain_seq, depart_s) order, so the stable sort
    would leave them as they are (demand generators write them so; a 1 M-trip sort costs
    ~0.7 s). Anything not plainly comparable (missing values, mixed id types) says no."""
    if any(isinstance(df[c].dtype, pd.CategoricalDtype) for c in ("vehicle_id", "chain_seq")):
        return False  # sorted by category order, not by value
    try:
        vid = df["vehicle_id"].to_numpy()
        seq = df["chain_seq"].to_numpy()
        dep = df["depart_s"].to_numpy()
        with np.errstate(invalid="ignore"):
            same_v = vid[1:] == vid[:-1]
            same_s = seq[1:] == seq[:-1]
            ok = (vid[1:] > vid[:-1]) | (
                same_v & ((seq[1:] > seq[:-1]) | (same_s & (dep[1:] >= dep[:-1])))
            )
        return bool(np.asarray(ok, dtype=bool).all())
    except TypeError:
        return False
