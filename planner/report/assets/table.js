/* evplan report tables: click a header of a table.sortable to sort by it (again to reverse);
 * a row with data-station shows that station on the map (window.evplanMap.highlight), and a
 * station clicked on the map marks its row. */
(function () {
  "use strict";
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var kind = th.getAttribute("data-sort") || "text";
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-key"), y = b.cells[col].getAttribute("data-key");
          if (x === "" && y !== "") { return 1; }
          if (y === "" && x !== "") { return -1; }
          var c = kind === "text" ? x.localeCompare(y) : parseFloat(x) - parseFloat(y);
          return dir * c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        table.setAttribute("data-sorted", col + (dir === 1 ? "+" : "-"));
      });
    });
    function mark(id) {
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.classList.toggle("active", r.getAttribute("data-station") === id);
      });
    }
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var id = row.getAttribute("data-station");
      if (!id) { return; }
      function show() {
        mark(id);
        if (window.evplanMap && window.evplanMap.highlight(id)) {
          var m = document.getElementById("map");
          if (m && m.scrollIntoView) { m.scrollIntoView({ block: "nearest" }); }
        }
      }
      row.addEventListener("click", show);
      row.addEventListener("keydown", function (e) { if (e.key === "Enter") { show(); } });
    });
    document.addEventListener("evplan:station", function (e) { mark(e.detail); });
  });
})();
