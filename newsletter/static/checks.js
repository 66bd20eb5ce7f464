// Checks before send in the composer: the findings of the language being previewed, as
// the preview's answer carries them (composer.js sends a "composer:preview" event).
// Every text comes from the page or from the server, already in the editor's language.
(function () {
  "use strict";

  const form = document.getElementById("composer");
  const section = document.getElementById("send-checks");
  const holder = document.getElementById("send-checks-findings");
  if (!form || !section || !holder) return;

  function badge(className, text) {
    const span = document.createElement("span");
    span.className = "badge " + className;
    span.textContent = text;
    return span;
  }

  function render(findings) {
    let list;
    if (findings.length) {
      list = document.createElement("ul");
      list.className = "findings";
      findings.forEach((finding) => {
        const item = document.createElement("li");
        const error = finding.severity === "error";
        item.className = "finding " + (error ? "error" : "warning");
        item.dataset.code = finding.code;
        item.append(badge(error ? "bad" : "warn", error ? section.dataset.error : section.dataset.warning));
        item.append(" " + finding.message);
        list.append(item);
      });
    } else {
      list = document.createElement("p");
      list.className = "small findings-none";
      list.append(badge("good", section.dataset.none));
    }
    list.dataset.testid = "send-checks-list";
    holder.replaceChildren(list);
  }

  form.addEventListener("composer:preview", (event) => {
    const result = event.detail;
    const findings = Array.isArray(result.checks) ? result.checks : [];
    section.hidden = Boolean(result.empty) && !findings.length;
    render(findings);
  });
})();
