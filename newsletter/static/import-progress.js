// The import job page: poll the job's progress.json and show it; reload once the check of
// the file or the import has ended.
(function () {
  "use strict";

  const box = document.querySelector("[data-progress-url]");
  if (!box) return;

  const bar = box.querySelector("progress");
  const analysing = box.hasAttribute("data-analysing");
  const FIELDS = ["total", "processed", "created", "updated", "skipped"];

  function show(name, value) {
    const element = box.querySelector('[data-field="' + name + '"]');
    if (element) element.textContent = typeof value === "number" ? value.toLocaleString() : value;
  }

  function poll() {
    fetch(box.dataset.progressUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then((job) => {
        if (job.finished || job.analysing !== analysing) {
          window.location.reload();
          return;
        }
        if (!analysing) {
          bar.max = Math.max(job.total, 1);
          bar.value = job.processed;
        }
        FIELDS.forEach((name) => show(name, job[name]));
        show("label", job.label);
        setTimeout(poll, 1000);
      })
      .catch(() => setTimeout(poll, 5000));
  }

  setTimeout(poll, 500);
})();
