"""A corpus of bad inputs, run through the installed command line's entry point.

Every case asserts: the exit code (2 for usage and input errors), that the message names
the offending input, that no traceback is printed, and that a good output already at the
target location is byte-identical afterwards (nothing half-written, nothing replaced).
The files are built in temporary folders; the OSM and study data are the real shared data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from planner.report.atomic import MARKER

ROOT = Path(__file__).resolve().parents[2]


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    cap = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), cap.out, cap.err


def _good_output(folder: Path) -> dict[str, bytes]:
    """A (synthetic) finished evplan output folder; returns its files' bytes."""
    (folder / "tables").mkdir(parents=True)
    files = ["kpis.json", "tables/trips.csv"]  # its marker lists them, as evplan's does
    (folder / MARKER).write_text(json.dumps({"tool": "evplan", "kind": "study", "files": files}))
    (folder / "kpis.json").write_text('{"before": {"n_stations": 1}}\n')
    (folder / "tables" / "trips.csv").write_text("trip_id,status\n0,completed\n")
    return _snapshot(folder)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


STUDY = """\
name: corpus
seed: 1
network:
  source: {data}/osm/almaty-2012.osm.pbf
demand:
  kind: city
  zones: {data}/kz/almaty-districts.geojson
  zone_population: {data}/kz/almaty-district-population.csv
  zone_name_field: name_ru
  adoption_share: 0.0005
  max_trips: 300
existing_stations:
  - {{name: KazZhol, osm_id: 50655465, osm_type: way}}
model: {{kind: mclp, p: 2, solver: {{time_limit_s: 5}}}}
simulation: {{replications: 1}}
"""


class Case:
    """One bad input: how to build it, what to run, and what must come out."""

    def __init__(
        self,
        name: str,
        build: Callable[[Path, Path], list[str]],
        needles: tuple[str, ...],
        code: int = 2,
        auto_out: bool = True,
    ) -> None:
        self.name, self.build, self.needles, self.code = name, build, needles, code
        self.auto_out = auto_out  # add "-o <good output>" to run/simulate/optimize


def _study(tmp: Path, data: Path, text: str | None = None, **replace: str) -> Path:
    body = STUDY.format(data=data) if text is None else text
    for old, new in replace.items():
        assert old in body, old
        body = body.replace(old, new)
    path = tmp / "study.yaml"
    path.write_text(body)
    return path


def _file(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _overpass(tmp: Path, doc: object) -> Path:
    return _file(tmp, "area.json", json.dumps(doc))


_NODE = {"type": "node", "id": 1, "lat": 43.2, "lon": 76.9}
_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)

CASES = [
    # --- config files: encoding, size, structure (validate and run) ---------------------
    Case(
        "binary config",
        lambda t, d: ["validate", str(_file(t, "s.yaml", b"\x00\x01\x02PK"))],
        ("s.yaml", "binary"),
    ),
    Case(
        "non-UTF-8 config",
        lambda t, d: ["validate", str(_file(t, "s.yaml", "name: caf\xe9".encode("latin-1")))],
        ("s.yaml", "not UTF-8"),
    ),
    Case(
        "deeply nested",
        lambda t, d: ["validate", str(_file(t, "s.yaml", "a: " + "[" * 3000 + "]" * 3000))],
        ("s.yaml", "nested"),
    ),
    Case(
        "billion laughs",
        lambda t, d: ["validate", str(_file(t, "s.yaml", _LAUGHS))],
        ("s.yaml", "aliases"),
    ),
    Case(
        "billion laughs in run",
        lambda t, d: ["run", str(_file(t, "s.yaml", _LAUGHS)), "-o", str(t / "out")],
        ("s.yaml", "aliases"),
    ),
    Case(
        "huge config",
        lambda t, d: ["validate", str(_file(t, "s.yaml", "# " + "x" * 1_100_000))],
        ("s.yaml", "too large"),
    ),
    Case(
        "empty config", lambda t, d: ["validate", str(_file(t, "s.yaml", ""))], ("s.yaml", "empty")
    ),
    Case(
        "not YAML",
        lambda t, d: ["validate", str(_file(t, "s.yaml", "name: [unclosed\n"))],
        ("s.yaml", "not valid YAML"),
    ),
    Case(
        "a list, not a mapping",
        lambda t, d: ["validate", str(_file(t, "s.yaml", "- a\n- b\n"))],
        ("s.yaml", "mapping"),
    ),
    Case(
        "missing config",
        lambda t, d: ["validate", str(t / "nope.yaml")],
        ("nope.yaml", "not found"),
    ),
    # --- config values --------------------------------------------------------------------
    Case(
        "unset variable",
        lambda t, d: [
            "validate",
            str(_study(t, d, **{f"source: {d}/osm": "source: ${EVPLAN_NO_SUCH_VAR}/osm"})),
        ],
        ("study.yaml:4", "network.source", "EVPLAN_NO_SUCH_VAR", "no default"),
    ),
    Case(
        "infinite time limit",
        lambda t, d: ["validate", str(_study(t, d, **{"time_limit_s: 5": "time_limit_s: .inf"}))],
        ("study.yaml:14", "model.solver.time_limit_s", "finite"),
    ),
    Case(
        "p: true",
        lambda t, d: ["validate", str(_study(t, d, **{"p: 2": "p: true"}))],
        ("model.p", "expected a number, got true"),
    ),
    Case(
        "p beyond the cap",
        lambda t, d: ["validate", str(_study(t, d, **{"p: 2": "p: 100000000"}))],
        ("model.p", "less than or equal"),
    ),
    Case(
        "unknown key",
        lambda t, d: ["validate", str(_study(t, d, **{"seed: 1": "seed: 1\ncolour: blue"}))],
        ("study.yaml:3", "colour", "spelling"),
    ),
    Case(
        "name '.'",
        lambda t, d: ["validate", str(_study(t, d, **{"name: corpus": "name: ."}))],
        ("study.yaml:1", "name"),
    ),
    Case(
        "frlm with a budget",
        lambda t, d: [
            "validate",
            str(_study(t, d, **{"kind: mclp, p: 2": "kind: frlm, budget: 5"})),
        ],
        ("budget", "frlm"),
    ),
    Case(
        "inverted bbox in YAML",
        lambda t, d: [
            "validate",
            str(
                _study(
                    t,
                    d,
                    **{
                        f"source: {d}/osm/almaty-2012.osm.pbf": "bbox: [77.2, 43.5, 76.6, 43.1]\n  download: true"
                    },
                )
            ),
        ],
        ("network.bbox", "west"),
    ),
    Case(
        "longitude 500 in YAML",
        lambda t, d: [
            "validate",
            str(
                _study(
                    t,
                    d,
                    **{
                        f"source: {d}/osm/almaty-2012.osm.pbf": "bbox: [500, 43.1, 501, 43.5]\n  download: true"
                    },
                )
            ),
        ],
        ("network.bbox", "500"),
    ),
    Case(
        "missing network file",
        lambda t, d: ["validate", str(_study(t, d, **{"almaty-2012.osm.pbf": "gone.osm.pbf"}))],
        ("gone.osm.pbf",),
    ),
    Case(
        "unknown vehicle",
        lambda t, d: [
            "validate",
            str(_study(t, d, **{"simulation:": "vehicles: {fleet: {no_such_ev: 1}}\nsimulation:"})),
        ],
        ("no_such_ev",),
    ),
    # --- sweep files ----------------------------------------------------------------------
    Case(
        "sweep range of 10^12",
        lambda t, d: [
            "validate",
            str(
                _file(
                    t,
                    "sw.yaml",
                    f"base: {_study(t, d)}\nparameters:\n  model.p: {{start: 1, stop: 1000000000000}}\n",
                )
            ),
        ],
        ("sw.yaml", "model.p", "values", "limit"),
    ),
    Case(
        "sweep grid too large",
        lambda t, d: [
            "batch",
            "--sweep",
            str(
                _file(
                    t,
                    "sw.yaml",
                    f"base: {_study(t, d)}\nparameters:\n  model.p: {{start: 1, stop: 200}}\n  seed: {{start: 1, stop: 200}}\n",
                )
            ),
        ],
        ("sw.yaml", "40,000 runs"),
    ),
    # --- output locations -----------------------------------------------------------------
    Case(
        "-o .", lambda t, d: ["simulate", str(_study(t, d)), "-o", "."], ("'.'", "current folder")
    ),
    Case("-o ..", lambda t, d: ["simulate", str(_study(t, d)), "-o", ".."], ("'..'",)),
    Case(
        "-o an existing file",
        lambda t, d: ["simulate", str(_study(t, d)), "-o", str(_file(t, "notes.txt", "mine"))],
        ("notes.txt", "existing file"),
    ),
    Case(
        "-o a foreign folder",
        lambda t, d: ["run", str(_study(t, d)), "-o", str(_foreign(t))],
        ("work/out", "did not write", "--overwrite"),
    ),
    Case(
        "-o the config's folder",
        lambda t, d: ["simulate", str(_study(_sub(t), d)), "-o", str(t / "cfg")],
        ("study file's own folder",),
    ),
    Case(
        "-o a parent of the config's folder",
        lambda t, d: ["simulate", str(_study(_sub(t, "a/b"), d)), "-o", str(t / "a")],
        ("study file's own folder or one of its parents",),
    ),
    Case(
        "outputs.folder: .",
        lambda t, d: [
            "run",
            str(_study(_sub(t), d, **{"simulation:": "outputs: {folder: .}\nsimulation:"})),
        ],
        ("outputs.folder", "own folder"),
        auto_out=False,
    ),
    Case(
        "read-only location",
        lambda t, d: ["simulate", str(_study(t, d)), "-o", "/proc/evplan-out"],
        ("/proc", "choose another output folder"),
    ),
    Case(
        "batch into a foreign folder",
        lambda t, d: ["batch", str(_study(t, d)), "-o", str(_foreign(t)), "--workers", "0"],
        ("batch folder", "did not write", "it keeps your files, except any named like its own"),
    ),
    Case(
        "sites -o a folder",
        lambda t, d: [
            "network",
            "sites",
            f"{d}/osm/almaty-2012.osm.pbf",
            "--format",
            "csv",
            "-o",
            str(t),
        ],
        ("--output", "is a folder"),
    ),
    Case(
        "sites -o an existing file",
        lambda t, d: [
            "network",
            "sites",
            f"{d}/osm/almaty-2012.osm.pbf",
            "--format",
            "csv",
            "-o",
            str(_file(t, "s.csv", "x")),
        ],
        ("s.csv", "--overwrite"),
    ),
    # --- OSM inputs -----------------------------------------------------------------------
    Case(
        "Overpass elements not a list",
        lambda t, d: ["network", "info", str(_overpass(t, {"elements": {"a": 1}}))],
        ("area.json", "elements"),
    ),
    Case(
        "Overpass element not an object",
        lambda t, d: ["network", "info", str(_overpass(t, {"elements": [_NODE, 7]}))],
        ("area.json", "element"),
    ),
    Case(
        "Overpass non-numeric coordinate",
        lambda t, d: [
            "network",
            "info",
            str(_overpass(t, {"elements": [{**_NODE, "lat": "north"}]})),
        ],
        ("area.json", "lat"),
    ),
    Case(
        "Overpass JSON not UTF-8",
        lambda t, d: ["network", "info", str(_file(t, "area.json", b'{"elements": ["\xff"]}'))],
        ("area.json",),
    ),
    Case(
        "negative --max-snap-m",
        lambda t, d: ["network", "sites", f"{d}/osm/almaty-2012.osm.pbf", "--max-snap-m", "-5"],
        ("-5",),
    ),
    Case(
        "NaN --max-snap-m",
        lambda t, d: ["network", "sites", f"{d}/osm/almaty-2012.osm.pbf", "--max-snap-m", "nan"],
        ("nan",),
    ),
    Case(
        "--bbox longitude 500",
        lambda t, d: ["network", "info", "--bbox", "500,43,501,44"],
        ("--bbox", "500"),
    ),
    Case("--bbox inverted", lambda t, d: ["network", "info", "--bbox", "77,44,76,43"], ("--bbox",)),
    Case("--bbox not numbers", lambda t, d: ["network", "info", "--bbox", "a,b,c,d"], ("--bbox",)),
    Case(
        "--existing longitude 500",
        lambda t, d: ["network", "sites", f"{d}/osm/almaty-2012.osm.pbf", "--existing", "X=500,10"],
        ("--existing", "X=500,10"),
    ),
    Case(
        "markup in a station name",
        lambda t, d: [
            "network",
            "sites",
            f"{d}/osm/almaty-2012.osm.pbf",
            "--existing",
            "Hotel [/b] Almaty=way/1",
        ],
        ("Hotel [/b] Almaty",),
    ),
    Case(
        "markup in a hint",
        lambda t, d: ["network", "info", str(_overpass(t, {"elements": [_NODE, 7]}))],
        ("area.json",),
    ),
    # --- usage ----------------------------------------------------------------------------
    Case("unknown option", lambda t, d: ["run", "--frobnicate"], ("--frobnicate",)),
    Case("missing argument", lambda t, d: ["run"], ("config",)),
    Case("unknown command", lambda t, d: ["frob"], ("frob",)),
    Case(
        "both studies and --sweep",
        lambda t, d: ["batch", str(_study(t, d)), "--sweep", str(_study(t, d))],
        ("--sweep",),
    ),
    Case(
        "negative --workers",
        lambda t, d: ["batch", str(_study(t, d)), "--workers", "-3"],
        ("--workers -3",),
    ),
    Case(
        "negative --retries",
        lambda t, d: ["batch", str(_study(t, d)), "--workers", "0", "--retries", "-1"],
        ("--retries -1",),
    ),
    Case(
        "scheduler address without a port",
        lambda t, d: ["batch", str(_study(t, d)), "--scheduler", "notaurl"],
        ("'notaurl'", "host:port"),
    ),
    Case(
        "negative --connect-timeout",
        lambda t, d: ["batch", str(_study(t, d)), "--connect-timeout", "-5"],
        ("--connect-timeout -5", "positive"),
    ),
]


def _sub(tmp: Path, rel: str = "cfg") -> Path:
    folder = tmp / rel
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _foreign(tmp: Path) -> Path:
    """A user's own folder (not evplan's): ``out/notes.txt`` and ``out/thesis/``."""
    folder = tmp / "out"
    (folder / "thesis").mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes")
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_a_clean_error(case, monkeypatch, capsys, tmp_path, data_dir, net_cache_dir):
    assert len(CASES) >= 40
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # relative -o values resolve here
    good = tmp_path / "good-output"
    before = _good_output(good)
    args = case.build(work, data_dir)
    # the good output sits at the target of every command that writes one
    if case.auto_out and "-o" not in args and args and args[0] in ("run", "simulate", "optimize"):
        args += ["-o", str(good)]
    foreign = work / "out"
    foreign_before = _snapshot(foreign) if foreign.exists() else None
    code, out, err = _run_cli(monkeypatch, capsys, *args)
    text = " ".join((out + err).split())
    assert code == case.code, text
    for needle in case.needles:
        assert needle in text, f"{needle!r} not in: {text}"
    assert "Traceback" not in out + err
    assert _snapshot(good) == before
    if foreign_before is not None:
        assert _snapshot(foreign) == foreign_before


def test_debug_shows_the_traceback_and_keeps_the_exit_code(monkeypatch, capsys, tmp_path, data_dir):
    """--debug adds the traceback; a bad input still exits 2 (not 1, as a raised error would)."""
    study = _study(tmp_path, data_dir)  # (its data files exist: the batch's config checks pass)
    args = ["batch", str(study), "--connect-timeout", "-5"]
    code, out, err = _run_cli(monkeypatch, capsys, "--debug", *args)
    assert code == 2 and "Traceback" in err and "--connect-timeout -5" in out + err
    code, out, err = _run_cli(monkeypatch, capsys, *args)
    assert code == 2 and "Traceback" not in out + err
    # after the command too, where "rerun with --debug" sends people (it was refused there:
    # "No such option: --debug")
    code, out, err = _run_cli(monkeypatch, capsys, *args, "--debug")
    assert code == 2 and "Traceback" in err and "No such option" not in out + err
    code, out, err = _run_cli(monkeypatch, capsys, "--debug", *args, "--debug")  # twice
    assert code == 2 and "Traceback" in err and "No such option" not in out + err


def test_help_and_version_exit_zero(monkeypatch, capsys):
    for args in (["-h"], ["run", "-h"], ["--version"]):
        code, out, _ = _run_cli(monkeypatch, capsys, *args)
        assert code == 0 and ("Usage" in out or "evplan" in out)


# --------------------------------------------------------------------------- faults


def _small_study(tmp: Path, data: Path) -> Path:
    return _study(tmp, data)


def test_a_full_disk_fails_the_run_and_keeps_the_old_output(tmp_path, data_dir, net_cache_dir):
    """RLIMIT_FSIZE caps every file the run writes (as a full disk would): the run fails
    with a clear message and the previous good output is untouched."""
    import resource

    study = _small_study(tmp_path, data_dir)
    out = tmp_path / "runs" / "corpus"
    env = {**os.environ, "EVPLAN_CACHE_DIR": str(net_cache_dir), "COLUMNS": "300"}
    first = subprocess.run(
        [sys.executable, "-m", "planner.cli", "simulate", str(study), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    assert any(len(b) > 64_000 for b in before.values())  # something the limit will stop

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    second = subprocess.run(
        [sys.executable, "-m", "planner.cli", "simulate", str(study), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=limit,
    )
    assert second.returncode == 1, second.stderr
    msg = " ".join(second.stderr.split())
    assert "could not write" in msg and "unchanged" in msg and "Traceback" not in msg
    assert _snapshot(out) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".corpus.")]


def test_sigint_says_nothing_was_written(tmp_path, data_dir, net_cache_dir):
    study = _study(
        tmp_path,
        data_dir,
        **{"max_trips: 300": "max_trips: 4000", "replications: 1": "replications: 3"},
    )
    out = tmp_path / "runs" / "corpus"
    before = _good_output(out)
    env = {**os.environ, "EVPLAN_CACHE_DIR": str(net_cache_dir), "COLUMNS": "300"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner.cli", "run", str(study), "-o", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell runs background jobs with SIGINT ignored, and Python keeps an ignored
        # SIGINT: restore the default so the interpreter installs its handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lock = out.parent / f".evplan-lock.{out.name}"  # taken once the study starts work
    deadline = time.monotonic() + 120
    while not lock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # into the study (which takes about a minute)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    err = " ".join(err.split())
    assert "interrupted" in err and "nothing was written" in err and "Traceback" not in err
    assert _snapshot(out) == before


def test_two_runs_into_one_folder_cannot_interleave(tmp_path, data_dir, net_cache_dir):
    from planner.report.atomic import OutputFolderError, atomic_dir, claim_output

    out = tmp_path / "runs" / "x"
    with claim_output(out):
        with pytest.raises(OutputFolderError, match="being written by another evplan run"):
            with claim_output(out):
                pass
    with claim_output(out):  # released: a later run may write
        pass
    # a run that wrote nothing (it failed) leaves no parent folders it created for its lock
    deep = tmp_path / "a" / "b" / "c"
    with pytest.raises(RuntimeError), claim_output(deep):
        assert (tmp_path / "a" / "b").is_dir()
        raise RuntimeError("the run failed")
    assert not (tmp_path / "a").exists()
    with claim_output(deep) as target, atomic_dir(target) as tmp:  # a run that wrote: kept
        (tmp / "x.txt").write_text("x")
    assert (deep / "x.txt").is_file()


def test_leftovers_of_a_killed_run_are_cleaned_but_not_a_users_files(tmp_path):
    from planner.report.atomic import atomic_dir, claim_output

    out = tmp_path / "runs" / "x"
    stale = tmp_path / "runs" / ".x.abc123.partial"
    stale.mkdir(parents=True)
    (stale / MARKER).write_text('{"tool": "evplan"}')
    users = tmp_path / "runs" / ".x.mine.partial"  # looks alike, but evplan did not write it
    users.mkdir()
    (users / "keep.txt").write_text("mine")
    with claim_output(out) as target, atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("a")
    assert not stale.exists() and (users / "keep.txt").read_text() == "mine"
    assert (out / "a.txt").read_text() == "a" and (out / MARKER).is_file()


def test_batch_never_deletes_what_it_did_not_write(tmp_path):
    from planner.batch.folder import clean_stale_runs

    runs = tmp_path / "batch" / "runs"
    mine = runs / "my-study-output"
    mine.mkdir(parents=True)
    (mine / "report.html").write_text("mine")
    ours = runs / "0123abcd"
    ours.mkdir()
    (ours / MARKER).write_text('{"tool": "evplan"}')
    log = runs / ".0123abcd.42-beef.run.log"
    log.write_text("log")
    assert clean_stale_runs(runs, {"0123abcd"}) == 2
    assert (mine / "report.html").read_text() == "mine"
    assert not ours.exists() and not log.exists()


def test_plain_pip_install_declares_what_the_cli_imports():
    """Everything planner/cli.py and its command modules import at start-up is a declared
    dependency (the `click` import used to be undeclared)."""
    import ast
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in deps}
    stdlib = set(sys.stdlib_module_names)
    for module in (
        "planner/cli.py",
        "planner/cli_checks.py",
        "planner/cli_exits.py",
        "planner/cli_output.py",
        "networks/cli.py",
        "planner/report/console.py",
    ):
        tree = ast.parse((ROOT / module).read_text())
        for node in tree.body:  # module-level imports run at start-up
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for m in mods:
                    top = m.split(".")[0]
                    if top in stdlib or top in ("networks", "sim", "planner", "__future__"):
                        continue
                    assert top.lower() in names, (
                        f"{module} imports {top}, not a declared dependency"
                    )


@pytest.mark.parametrize("target", ["inputs", "parent"])
def test_overwrite_never_replaces_the_studys_own_inputs(
    target, monkeypatch, capsys, tmp_path, data_dir, net_cache_dir
):
    """``evplan simulate --overwrite -o <data>/kz`` replaced the folder with its output and
    the district files it had just read were gone (a review wiped the shared data that
    way). A folder that is or holds an input is refused, --overwrite or not. The inputs
    here are copies in a temporary folder: a failing run must not touch the real data."""
    import shutil

    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    mine = tmp_path / "mydata" / "kz"
    mine.mkdir(parents=True)
    for name in ("almaty-districts.geojson", "almaty-district-population.csv"):
        shutil.copy(data_dir / "kz" / name, mine / name)
    study = _study(_sub(tmp_path), data_dir)
    body = study.read_text().replace(f"{data_dir}/kz/", f"{mine}/")
    study.write_text(body)
    before = _snapshot(tmp_path / "mydata")
    out = mine if target == "inputs" else mine.parent
    code, stdout, err = _run_cli(
        monkeypatch, capsys, "simulate", str(study), "--overwrite", "-o", str(out)
    )
    assert code == 2, stdout + err
    assert "holds an input of the study" in stdout + err and "Traceback" not in stdout + err
    assert _snapshot(tmp_path / "mydata") == before  # nothing touched


def test_an_older_output_folder_with_a_users_file_is_not_replaced_whole(
    monkeypatch, capsys, tmp_path, data_dir, net_cache_dir
):
    """A folder an older evplan wrote (its manifest names evplan; no marker file list) was
    replaced whole without --overwrite, and the notes a user had saved there were lost."""
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    out = tmp_path / "old-run"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"packages": {"evplan": "0.1"}}))
    (out / "notes.txt").write_text("my notes")
    before = _snapshot(out)
    code, stdout, err = _run_cli(
        monkeypatch, capsys, "simulate", str(_study(tmp_path, data_dir)), "-o", str(out)
    )
    assert code == 2, stdout + err
    assert "older evplan" in stdout + err and "--overwrite" in stdout + err
    assert _snapshot(out) == before
