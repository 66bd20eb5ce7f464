// The import job page: poll the job's progress.json and show it; reload once it has ended.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");

  function show(name, value) {
    var element = box.querySelector('[data-field="' + name + '"]');
    if (element) {
      element.textContent = typeof value === "number" ? value.toLocaleString() : value;
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (job) {
        if (job.finished) {
          window.location.reload();
          return;
        }
        bar.max = Math.max(job.total, 1);
        bar.value = job.processed;
        ["processed", "created", "updated", "skipped"].forEach(function (name) {
          show(name, job[name]);
        });
        show("label", job.label);
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 500);
})();
