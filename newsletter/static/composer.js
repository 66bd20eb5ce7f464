// The issue composer: language tabs, a live preview of the exact mail, live audience counts.
// Every text the editor sees comes from the page (data attributes rendered by Jinja).
(function () {
  "use strict";

  const form = document.querySelector("form[data-preview-url]");
  if (!form) return;

  const csrfToken = form.querySelector("input[name=csrf_token]").value;
  const tabs = Array.from(form.querySelectorAll(".tabs:not(.preview-widths) [role=tab]"));
  const panels = Array.from(form.querySelectorAll("[role=tabpanel][data-language]"));
  const frames = Array.from(form.querySelectorAll("iframe.preview"));
  const textPart = document.getElementById("preview-text");
  const status = document.getElementById("preview-status");
  const counts = document.getElementById("audience-counts");
  let active = form.dataset.activeLanguage;

  function debounce(action, delay) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(action, delay);
    };
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken },
    }).then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response;
    });
  }

  function field(language, name) {
    return form.elements["variant_" + language + "-" + name];
  }

  // Preview: only the latest request may paint, however the answers arrive.
  let previewSequence = 0;

  function refreshPreview() {
    const sequence = ++previewSequence;
    const body = new FormData();
    body.append("language", active);
    body.append("issue_id", form.dataset.issueId || "");
    ["subject", "preheader", "body"].forEach((name) => body.append(name, field(active, name).value));
    status.textContent = status.dataset.updating;
    post(form.dataset.previewUrl, body)
      .then((response) => response.json())
      .then((result) => {
        if (sequence !== previewSequence) return;
        frames.forEach((frame) => { frame.srcdoc = result.html; });
        textPart.textContent = result.text;
        status.textContent = result.empty ? status.dataset.empty : "";
      })
      .catch(() => {
        if (sequence === previewSequence) status.textContent = status.dataset.failed;
      });
  }

  let audienceSequence = 0;

  function refreshAudience() {
    const sequence = ++audienceSequence;
    post(form.dataset.audienceUrl, new FormData(form))
      .then((response) => response.text())
      .then((html) => {
        // Server-rendered and escaped by Jinja: a fragment of our own page.
        if (sequence === audienceSequence) counts.innerHTML = html;
      })
      .catch(() => { /* the last counts stay; saving recomputes them */ });
  }

  const previewSoon = debounce(refreshPreview, 400);
  const audienceSoon = debounce(refreshAudience, 300);

  function selectLanguage(language, focus) {
    active = language;
    tabs.forEach((tab) => {
      const selected = tab.dataset.language === language;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      if (selected && focus) tab.focus();
    });
    panels.forEach((panel) => { panel.hidden = panel.dataset.language !== language; });
    refreshPreview();
  }

  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => selectLanguage(tab.dataset.language, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const next = tabs[(index + step + tabs.length) % tabs.length];
      selectLanguage(next.dataset.language, true);
    });
  });

  // Phone or desktop width: both frames are kept up to date, one is shown.
  const widthTabs = Array.from(form.querySelectorAll(".preview-widths [role=tab]"));
  function showWidth(width) {
    widthTabs.forEach((tab) => {
      const selected = tab.dataset.width === width;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    });
  }
  widthTabs.forEach((tab) => {
    tab.addEventListener("click", () => showWidth(tab.dataset.width));
  });

  form.addEventListener("input", (event) => {
    const panel = event.target.closest("[role=tabpanel][data-language]");
    if (panel && panel.dataset.language === active) previewSoon();
    // A language that gains or loses its text gains or loses its variant in the counts.
    if (panel || event.target.name === "lists" || event.target.name === "audience_languages") {
      audienceSoon();
    }
  });
  form.addEventListener("change", (event) => {
    if (["lists", "audience_languages", "fallback", "default_language"].includes(event.target.name)) {
      audienceSoon();
    }
  });

  form.classList.add("js");
  panels.forEach((panel) => { panel.hidden = panel.dataset.language !== active; });
  tabs.forEach((tab) => { tab.tabIndex = tab.dataset.language === active ? 0 : -1; });
  showWidth("phone");
})();
