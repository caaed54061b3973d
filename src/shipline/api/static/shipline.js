// Timestamps in the viewer's time zone; the UTC original stays in the title.
document.addEventListener("DOMContentLoaded", () => {
  for (const node of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(node.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      node.textContent = moment.toLocaleString();
    }
  }
});
