/* evplan report map: a dependency-free canvas map (no tiles, no network access).
 * Reads the JSON in #map-data (coordinates as integers of 1e-5 degrees, delta-encoded per
 * line/ring), projects to Web Mercator, and draws roads, demand, candidates and stations.
 * Wheel/buttons/keys zoom, drag pans, hover or click shows a tooltip, checkboxes toggle layers.
 * Selected and existing stations are labelled, corridor towns named; candidate sites are
 * drawn small and start hidden. window.evplanMap.highlight(id) centres and rings a station
 * (the stations table calls it); clicking a station fires "evplan:station" with its id.
 * After each draw the container gets data-rendered="true" and counts for the tests. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  var src = document.getElementById("map-data");
  if (!el || !src) { return; }
  var data = JSON.parse(src.textContent);
  var Q = 1e-5, R = 6378137, BG = "#f4f3ee";
  var STYLE = {
    roads: { major: ["#d08c3a", 1.8], mid: ["#a8a8a8", 1.1], minor: ["#c6c6c6", 0.6], road: ["#a8a8a8", 0.9] },
    demand: { fill: "rgba(91,141,239,0.30)", stroke: "rgba(61,111,209,0.8)" },
    candidates: { fill: "rgba(255,255,255,0.6)", stroke: "rgba(120,120,120,0.55)" },
    existing: { fill: "#3182bd", stroke: "#ffffff" },
    selected: { fill: "#e6550d", stroke: "#ffffff" }
  };
  var ORDER = ["demand", "candidates", "existing", "selected"];

  function px(lon) { return lon * Math.PI / 180; }
  function py(lat) {
    var r = Math.max(Math.min(lat, 85), -85) * Math.PI / 180;
    return -Math.log(Math.tan(Math.PI / 4 + r / 2));  // screen y grows downwards
  }
  function decode(flat) {  // -> {xy: Float64Array, box: [x0, y0, x1, y1]}
    var xy = new Float64Array(flat.length), x = 0, y = 0, b = [Infinity, Infinity, -Infinity, -Infinity];
    for (var i = 0; i < flat.length; i += 2) {
      x += flat[i]; y += flat[i + 1];
      var X = px(x * Q), Y = py(y * Q);
      xy[i] = X; xy[i + 1] = Y;
      if (X < b[0]) b[0] = X; if (Y < b[1]) b[1] = Y; if (X > b[2]) b[2] = X; if (Y > b[3]) b[3] = Y;
    }
    return { xy: xy, box: b };
  }

  var roads = (data.roads || []).map(function (cls) {
    return { cls: cls.cls, lines: cls.lines.map(decode) };
  });
  var layers = {};
  ORDER.forEach(function (name) {
    var feats = (data.layers && data.layers[name]) || [];
    layers[name] = {
      on: true,
      feats: feats.map(function (f) {
        var parts = f.t === "P" ? [decode(f.c)] : f.c.map(decode);
        return { t: f.t, parts: parts, p: f.p || {}, r: f.r || 0 };
      })
    };
  });
  var roadsOn = true;
  // layers start as their checkboxes say (candidate sites start hidden: they cover roads)
  document.querySelectorAll("[data-map-layer]").forEach(function (box) {
    var name = box.getAttribute("data-map-layer");
    if (name === "roads") { roadsOn = box.checked; } else if (layers[name]) { layers[name].on = box.checked; }
  });
  var places = (data.places || []).map(function (p) { return { n: p.n, X: px(p.x), Y: py(p.y) }; });
  // staged studies: new stations coloured by the year they open (early = dark)
  var YEAR_COLOURS = ["#7f2704", "#d94801", "#fd8d3c", "#fdae6b", "#31a354", "#756bb1"];
  var years = [];
  layers.selected.feats.forEach(function (f) {
    var y = f.p.opening_year;
    if (y !== undefined && y !== null && years.indexOf(y) < 0) { years.push(y); }
  });
  years.sort();
  function yearColour(y) { return YEAR_COLOURS[Math.min(years.indexOf(y), YEAR_COLOURS.length - 1)]; }
  if (years.length) {
    var legend = document.createElement("div");
    legend.className = "map-years";
    legend.setAttribute("data-years", years.join(","));
    years.forEach(function (y) {
      var row = document.createElement("div");
      var sw = document.createElement("span");
      sw.className = "sw"; sw.style.background = yearColour(y);
      row.appendChild(sw); row.appendChild(document.createTextNode(" opens " + y));
      legend.appendChild(row);
    });
    var panel = document.querySelector(".map-panel");
    if (panel) { panel.appendChild(legend); }
  }
  var highlighted = null;

  var canvas = document.createElement("canvas");
  canvas.className = "map-canvas";
  el.appendChild(canvas);
  var ctx = canvas.getContext("2d");
  var tip = document.createElement("div");
  tip.className = "map-tip";
  tip.hidden = true;
  el.appendChild(tip);
  var scale = document.createElement("div");
  scale.className = "map-scale";
  el.appendChild(scale);

  var W = 0, H = 0, view = { cx: 0, cy: 0, k: 1 }, home = null, pinned = null;

  function fit() {
    var b = data.bbox;  // lon/lat box of everything
    var x0 = px(b[0]), x1 = px(b[2]), y0 = py(b[3]), y1 = py(b[1]);
    var dx = Math.max(x1 - x0, 2e-4), dy = Math.max(y1 - y0, 2e-4);  // >= ~1 km: one station alone
    view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, k: 0.92 * Math.min(W / dx, H / dy) };
    home = { cx: view.cx, cy: view.cy, k: view.k };
  }
  function resize() {
    var dpr = window.devicePixelRatio || 1;
    W = Math.max(el.clientWidth, 200); H = Math.max(el.clientHeight, 200);
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    canvas.style.width = W + "px"; canvas.style.height = H + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function sx(X) { return (X - view.cx) * view.k + W / 2; }
  function sy(Y) { return (Y - view.cy) * view.k + H / 2; }
  function visible(b) {
    return !(sx(b[2]) < -20 || sx(b[0]) > W + 20 || sy(b[3]) < -20 || sy(b[1]) > H + 20);
  }
  function tracePart(part, close) {
    var xy = part.xy;
    ctx.moveTo(sx(xy[0]), sy(xy[1]));
    for (var i = 2; i < xy.length; i += 2) { ctx.lineTo(sx(xy[i]), sy(xy[i + 1])); }
    if (close) { ctx.closePath(); }
  }
  function radius(name, f) {
    if (name === "candidates") { return 2; }
    if (name === "demand") { return f.r || 3; }
    return 4 + 1.4 * Math.sqrt(Math.max(f.p.plugs || 1, 1));
  }

  var counts = { roads: 0, stations: 0, demand: 0, candidates: 0 };
  var frame = 0;
  function draw() {
    frame = 0;
    ctx.fillStyle = BG; ctx.fillRect(0, 0, W, H);
    counts = { roads: 0, stations: 0, demand: 0, candidates: 0 };
    var dem = layers.demand;
    if (dem.on) {  // zones under the roads, points above
      ctx.beginPath();
      dem.feats.forEach(function (f) {
        if (f.t !== "A") { return; }
        f.parts.forEach(function (p) { if (visible(p.box)) { tracePart(p, true); } });
        counts.demand += 1;
      });
      ctx.fillStyle = STYLE.demand.fill; ctx.fill("evenodd");
      ctx.strokeStyle = STYLE.demand.stroke; ctx.lineWidth = 1; ctx.stroke();
    }
    if (roadsOn) {
      ctx.lineCap = "round"; ctx.lineJoin = "round";
      roads.forEach(function (cls) {
        var st = STYLE.roads[cls.cls] || STYLE.roads.road;
        ctx.beginPath();
        cls.lines.forEach(function (ln) {
          if (visible(ln.box)) { tracePart(ln, false); counts.roads += 1; }
        });
        ctx.strokeStyle = st[0]; ctx.lineWidth = st[1]; ctx.stroke();
      });
    }
    ORDER.forEach(function (name) {
      var L = layers[name], st = STYLE[name];
      if (!L.on) { return; }
      L.feats.forEach(function (f) {
        if (f.t === "L" && visible(f.parts[0].box)) {
          ctx.beginPath(); f.parts.forEach(function (p) { tracePart(p, false); });
          ctx.strokeStyle = st.fill; ctx.lineWidth = 2; ctx.stroke();
        }
        if (f.t !== "P") { return; }
        var x = sx(f.parts[0].xy[0]), y = sy(f.parts[0].xy[1]);
        if (x < -10 || x > W + 10 || y < -10 || y > H + 10) { return; }
        var r = radius(name, f);
        ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fillStyle = (name === "selected" && years.length && f.p.opening_year !== undefined)
          ? yearColour(f.p.opening_year) : st.fill;
        ctx.fill();
        ctx.lineWidth = name === "candidates" ? 1 : 1.5;
        // renewable sites (new stations and candidates) get a green ring
        ctx.strokeStyle = ((name === "selected" || name === "candidates") && f.p.renewable) ? "#2ca02c" : st.stroke;
        if (f.p.renewable && name === "candidates") { ctx.lineWidth = 2; }
        if (name !== "demand") { ctx.stroke(); }
        if (name === "existing" || name === "selected") { counts.stations += 1; }
        else { counts[name] += 1; }
      });
    });
    drawLabels();
    drawScale();
    report();
  }
  function label(text, x, y, bold) {
    ctx.font = (bold ? "600 " : "") + "11px system-ui, sans-serif";
    ctx.lineWidth = 3; ctx.strokeStyle = "rgba(255,255,255,0.9)"; ctx.lineJoin = "round";
    ctx.strokeText(text, x, y); ctx.fillStyle = bold ? "#222" : "#555"; ctx.fillText(text, x, y);
  }
  function drawLabels() {
    var n = 0;
    ctx.textBaseline = "middle";
    places.forEach(function (p) {
      var x = sx(p.X), y = sy(p.Y);
      if (x < 0 || x > W || y < 0 || y > H) { return; }
      ctx.fillStyle = "#555"; ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
      label(p.n, x + 5, y, false);
    });
    ["existing", "selected"].forEach(function (name) {
      var L = layers[name];
      if (!L.on) { return; }
      var many = L.feats.length > 40 && view.k < home.k * 4;  // dense: label on zoom only
      L.feats.forEach(function (f) {
        if (f.t !== "P") { return; }
        var x = sx(f.parts[0].xy[0]), y = sy(f.parts[0].xy[1]), id = f.p.station_id || f.p.site_id;
        if (x < 0 || x > W || y < 0 || y > H) { return; }
        if (highlighted && id === highlighted) {
          ctx.beginPath(); ctx.arc(x, y, radius(name, f) + 6, 0, 2 * Math.PI);
          ctx.lineWidth = 3; ctx.strokeStyle = "#111"; ctx.stroke();
        }
        if (many && id !== highlighted) { return; }
        label(String(f.p.name || id || ""), x + radius(name, f) + 4, y, true);
        n += 1;
      });
    });
    el.dataset.labels = n;
    el.dataset.places = places.length;
  }
  function findStation(id) {
    var hit = null;
    ["selected", "existing"].forEach(function (name) {
      layers[name].feats.forEach(function (f) {
        if (!hit && f.t === "P" && (f.p.station_id === id || f.p.site_id === id)) { hit = { layer: name, f: f }; }
      });
    });
    return hit;
  }
  window.evplanMap = {
    highlight: function (id) {
      var hit = findStation(id);
      if (!hit) { return false; }
      highlighted = id;
      layers[hit.layer].on = true;
      view.cx = hit.f.parts[0].xy[0]; view.cy = hit.f.parts[0].xy[1];
      view.k = Math.max(view.k, home.k * 6);
      el.dataset.highlighted = id;
      schedule();
      return true;
    }
  };
  function schedule() { if (!frame) { frame = window.requestAnimationFrame(draw); } }

  function drawScale() {
    var lat = 2 * Math.atan(Math.exp(-view.cy)) - Math.PI / 2;
    var mPerPx = R * Math.cos(lat) / view.k, target = mPerPx * 110;
    var p = Math.pow(10, Math.floor(Math.log10(target))), n = p;
    [1, 2, 5, 10].forEach(function (m) { if (m * p <= target) { n = m * p; } });
    scale.style.width = Math.round(n / mPerPx) + "px";
    scale.textContent = n >= 1000 ? (n / 1000) + " km" : n + " m";
  }
  function report() {  // what the end-to-end test reads from the DOM
    var img = ctx.getImageData(0, 0, canvas.width, canvas.height).data, inked = 0;
    for (var i = 0; i < img.length; i += 4 * 16) {
      if (img[i] !== 244 || img[i + 1] !== 243 || img[i + 2] !== 238) { inked += 1; }
    }
    el.dataset.roadLines = counts.roads;
    el.dataset.stations = counts.stations;
    el.dataset.demand = counts.demand;
    el.dataset.candidates = counts.candidates;
    el.dataset.inkedSamples = inked;
    el.dataset.rendered = "true";
  }

  // ---- interaction
  function zoomAt(factor, x, y) {
    var X = (x - W / 2) / view.k + view.cx, Y = (y - H / 2) / view.k + view.cy;
    view.k = Math.min(Math.max(view.k * factor, home.k / 4), home.k * 4096);
    view.cx = X - (x - W / 2) / view.k; view.cy = Y - (y - H / 2) / view.k;
    schedule();
  }
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  canvas.addEventListener("dblclick", function (e) {
    var r = canvas.getBoundingClientRect();
    zoomAt(e.shiftKey ? 0.5 : 2, e.clientX - r.left, e.clientY - r.top);
  });
  var drag = null;
  canvas.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, y: e.clientY, cx: view.cx, cy: view.cy, moved: false };
    try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events have no pointer */ }
  });
  canvas.addEventListener("pointermove", function (e) {
    if (drag) {
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; }
      view.cx = drag.cx - dx / view.k; view.cy = drag.cy - dy / view.k;
      schedule();
      return;
    }
    if (!pinned) { hover(e, false); }
  });
  canvas.addEventListener("pointerup", function (e) {
    var wasDrag = drag && drag.moved;
    drag = null;
    if (!wasDrag) { hover(e, true); }
  });
  canvas.addEventListener("pointerleave", function () { if (!pinned) { tip.hidden = true; } });
  canvas.tabIndex = 0;
  canvas.addEventListener("keydown", function (e) {
    var step = 80 / view.k, keys = {
      ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (keys[e.key]) { view.cx += keys[e.key][0]; view.cy += keys[e.key][1]; schedule(); e.preventDefault(); }
    if (e.key === "+" || e.key === "=") { zoomAt(1.5, W / 2, H / 2); }
    if (e.key === "-") { zoomAt(1 / 1.5, W / 2, H / 2); }
  });

  function inside(xy, X, Y) {  // even-odd ray casting, projected units
    var c = false;
    for (var i = 0, j = xy.length - 2; i < xy.length; j = i, i += 2) {
      if ((xy[i + 1] > Y) !== (xy[j + 1] > Y) &&
          X < (xy[j] - xy[i]) * (Y - xy[i + 1]) / (xy[j + 1] - xy[i + 1]) + xy[i]) { c = !c; }
    }
    return c;
  }
  function pick(x, y) {
    var best = null, bestD = Infinity, names = ORDER.slice().reverse();  // stations first
    for (var n = 0; n < names.length && !best; n++) {
      var L = layers[names[n]];
      if (!L.on) { continue; }
      L.feats.forEach(function (f) {
        if (f.t !== "P") { return; }
        var d = Math.hypot(sx(f.parts[0].xy[0]) - x, sy(f.parts[0].xy[1]) - y);
        if (d <= radius(names[n], f) + 4 && d < bestD) { best = { layer: names[n], f: f }; bestD = d; }
      });
    }
    if (!best && layers.demand.on) {
      var X = (x - W / 2) / view.k + view.cx, Y = (y - H / 2) / view.k + view.cy;
      layers.demand.feats.forEach(function (f) {
        if (f.t === "A" && !best && f.parts.some(function (p) { return inside(p.xy, X, Y); })) {
          best = { layer: "demand", f: f };
        }
      });
    }
    return best;
  }
  var LABELS = { plugs: "plugs", power_kw: "power (kW)", utilisation: "utilisation", mean_wait_min: "mean wait (min)",
    wait_mean_min: "mean wait (min)", wait_p95_min: "p95 wait (min)", sessions: "sessions", site_id: "id",
    station_id: "id", kind: "kind", weight: "weight", cost: "cost", site_cost: "site cost", renewable: "renewable",
    sessions_per_day: "sessions / day", opened_round: "opened in round", opening_year: "opens (year)",
    connectors: "connectors", capex: "capex",
    approximate: "location approximate", plant: "renewable plant", renewable_share: "renewable share",
    co2_kg: "CO2 (kg)", grid_kw: "grid capacity (kW)", upgrade_kw: "grid upgrade (kW)", managed: "managed charging" };
  function fmt(k, v) {
    if (v === null || v === undefined || v === "") { return "—"; }
    if ((k === "utilisation" || k === "renewable_share") && typeof v === "number") {
      // as the report's formatter: a share that is not whole never reads 100.0 % (or 0.0 %)
      var pct = (100 * v).toFixed(1);
      if (v < 1 && pct === "100.0") { return "> 99.9 %"; }
      if (v > 0 && pct === "0.0") { return "< 0.1 %"; }
      return pct + " %";
    }
    if (k === "opening_year" && typeof v === "number") { return String(Math.round(v)); }  // 2030, not 2,030
    if (typeof v === "number") { return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en") : String(+v.toFixed(2)); }
    if (typeof v === "boolean") { return v ? "yes" : "no"; }
    return String(v);
  }
  function hover(e, click) {
    var r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    var hit = pick(x, y);
    if (click) {
      pinned = hit;
      var sid = hit && (hit.f.p.station_id || hit.f.p.site_id);
      if (sid && (hit.layer === "selected" || hit.layer === "existing")) {
        highlighted = sid; schedule();
        document.dispatchEvent(new CustomEvent("evplan:station", { detail: sid }));
      }
    }
    if (!hit) { tip.hidden = true; canvas.style.cursor = "grab"; return; }
    canvas.style.cursor = "pointer";
    tip.textContent = "";
    var h = document.createElement("strong");
    h.textContent = hit.f.p.name || hit.f.p.site_id || hit.f.p.station_id || hit.layer;
    tip.appendChild(h);
    var sub = document.createElement("div");
    sub.className = "map-tip-layer";
    sub.textContent = { selected: "new station", existing: "existing station", candidates: "candidate site",
      demand: "demand" }[hit.layer];
    tip.appendChild(sub);
    Object.keys(hit.f.p).forEach(function (k) {
      if (k === "name") { return; }
      var row = document.createElement("div");
      row.textContent = (LABELS[k] || k) + ": " + fmt(k, hit.f.p[k]);
      tip.appendChild(row);
    });
    tip.hidden = false;
    tip.style.left = Math.min(x + 14, W - tip.offsetWidth - 4) + "px";
    tip.style.top = Math.min(y + 14, H - tip.offsetHeight - 4) + "px";
  }

  // ---- controls (built in markup by the report; wired here)
  document.querySelectorAll("[data-map-layer]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-map-layer");
      if (name === "roads") { roadsOn = box.checked; } else if (layers[name]) { layers[name].on = box.checked; }
      pinned = null; tip.hidden = true;
      schedule();
    });
  });
  function button(sel, fn) { var b = document.querySelector(sel); if (b) { b.addEventListener("click", fn); } }
  button("[data-map-zoom='in']", function () { zoomAt(1.6, W / 2, H / 2); });
  button("[data-map-zoom='out']", function () { zoomAt(1 / 1.6, W / 2, H / 2); });
  button("[data-map-zoom='home']", function () { view = { cx: home.cx, cy: home.cy, k: home.k }; schedule(); });

  window.addEventListener("resize", function () {
    var rel = { cx: view.cx, cy: view.cy, k: view.k / home.k };
    resize(); fit();
    view = { cx: rel.cx, cy: rel.cy, k: rel.k * home.k };
    schedule();
  });
  resize(); fit(); draw();

  // "#selftest": drive hover, wheel zoom, drag pan and a layer toggle with synthetic events
  // and record the outcome on the container (read by the headless-Chromium test).
  function selftest() {
    var r = canvas.getBoundingClientRect(), out = [];
    function ev(type, x, y, extra) {
      var o = { clientX: r.left + x, clientY: r.top + y, bubbles: true, pointerId: 1 };
      Object.keys(extra || {}).forEach(function (k) { o[k] = extra[k]; });
      canvas.dispatchEvent(type === "wheel" ? new WheelEvent(type, o) : new PointerEvent(type, o));
    }
    var st = layers.selected.feats.concat(layers.existing.feats).filter(function (f) { return f.t === "P"; })[0];
    if (st) {
      ev("pointermove", sx(st.parts[0].xy[0]), sy(st.parts[0].xy[1]));
      out.push(tip.hidden ? "hover:none" : "hover:ok");
      el.dataset.tipText = tip.textContent;
    }
    var k0 = view.k;
    ev("wheel", W / 2, H / 2, { deltaY: -300 });
    out.push(view.k > k0 ? "zoom:ok" : "zoom:none");
    var cx0 = view.cx;
    ev("pointerdown", 100, 100); ev("pointermove", 160, 120); ev("pointerup", 160, 120);
    out.push(view.cx !== cx0 ? "pan:ok" : "pan:none");
    var box = document.querySelector("[data-map-layer='selected']");
    if (box) { box.click(); out.push(layers.selected.on ? "toggle:none" : "toggle:ok"); box.click(); }
    el.dataset.selftest = out.join(" ");
  }
  if (window.location.hash === "#selftest") { selftest(); }
})();
