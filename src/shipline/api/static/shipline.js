// Timestamps in the viewer's time zone; the UTC original stays in the title.
document.addEventListener("DOMContentLoaded", () => {
  for (const node of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(node.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      node.textContent = moment.toLocaleString();
    }
  }
});

// Tables marked "sortable": a header click (or Enter on it) sorts by that column; a filter box
// above the table hides rows without the typed text. Without script, the tables still read.
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.sortable")) {
    const body = table.tBodies[0];
    if (!body) continue;
    const filter = document.createElement("input");
    filter.type = "search";
    filter.placeholder = "Filter rows";
    filter.setAttribute("aria-label", "Filter rows");
    filter.className = "table-filter";
    filter.addEventListener("input", () => {
      const wanted = filter.value.toLowerCase();
      for (const row of body.rows) {
        row.hidden = wanted !== "" && !row.innerText.toLowerCase().includes(wanted);
      }
    });
    table.before(filter);
    table.querySelectorAll("thead th").forEach((header, column) => {
      header.tabIndex = 0;
      header.setAttribute("aria-sort", "none");
      const sort = () => {
        const ascending = header.getAttribute("aria-sort") !== "ascending";
        const rows = Array.from(body.rows);
        const key = (row) => row.cells[column] ? row.cells[column].innerText.trim() : "";
        rows.sort((a, b) => {
          const x = key(a), y = key(b);
          const nx = parseFloat(x), ny = parseFloat(y);
          const order = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        table.querySelectorAll("thead th").forEach((h) => h.setAttribute("aria-sort", "none"));
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        for (const row of rows) body.appendChild(row);
      };
      header.addEventListener("click", sort);
      header.addEventListener("keydown", (event) => { if (event.key === "Enter") sort(); });
    });
  }
});
