// The campaign page: polls the progress JSON every ~2 s and updates the table, the bars,
// the rate, how far the list of recipients is written, the status badge and which actions
// are offered. Labels come from the server.
(function () {
  "use strict";

  const table = document.querySelector("table[data-progress-url]");
  if (!table) return;

  const statusBadge = document.getElementById("campaign-status");
  const preparing = document.getElementById("ledger-preparing");
  const rate = document.getElementById("campaign-rate");
  const rowTemplate = document.getElementById("progress-row-template");
  const interval = Number(table.dataset.interval) || 2000;
  const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);
  const rates = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  });
  const FIELDS = ["sent", "failed", "skipped", "remaining", "total"];

  function rowFor(language, container) {
    let row = container.querySelector('tr[data-language="' + CSS.escape(language) + '"]');
    if (!row) {
      row = rowTemplate.content.querySelector("tr").cloneNode(true);
      row.dataset.language = language;
      container.appendChild(row);
    }
    return row;
  }

  function fill(row, data) {
    row.querySelector('[data-field="label"]').textContent = data.label;
    FIELDS.forEach((name) => {
      row.querySelector('[data-field="' + name + '"]').textContent = numbers.format(data[name]);
    });
    const bar = row.querySelector('[data-field="bar"]');
    bar.max = data.total || 1;
    bar.value = data.done;
  }

  function showActions(status, failed) {
    document.querySelectorAll("[data-states]").forEach((element) => {
      const states = element.dataset.states.split(" ");
      const wanted = states.includes(status) && (!("needsFailed" in element.dataset) || failed > 0);
      element.hidden = !wanted;
    });
  }

  // "Sending has started" is news only while the campaign runs.
  function dropStartedNotice(status) {
    if (status !== "sent" && status !== "cancelled") return;
    document.querySelectorAll('.notice[data-category="started"]').forEach((notice) => notice.remove());
  }

  function update(data) {
    const body = table.tBodies[0];
    data.languages.forEach((part) => fill(rowFor(part.language, body), part));
    fill(rowFor("all", table.tFoot), data.overall);
    rate.textContent = rates.format(data.rate);
    preparing.hidden = !data.preparing;
    preparing.textContent = data.preparing ? data.preparing.text : "";
    statusBadge.textContent = data.status_label;
    statusBadge.dataset.status = data.status;
    statusBadge.className = "badge " + data.status_badge;
    showActions(data.status, data.overall.failed);
    dropStartedNotice(data.status);
  }

  function poll() {
    fetch(table.dataset.progressUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then((data) => {
        update(data);
        if (data.live) setTimeout(poll, interval);
      })
      .catch(() => setTimeout(poll, interval * 2));
  }

  dropStartedNotice(statusBadge.dataset.status);
  if (table.dataset.live === "true") setTimeout(poll, interval);
})();
