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
    body.append("layout", form.elements.layout ? form.elements.layout.value : "");
    ["subject", "preheader", "body"].forEach((name) => body.append(name, field(active, name).value));
    status.textContent = status.dataset.updating;
    post(form.dataset.previewUrl, body)
      .then((response) => response.json())
      .then((result) => {
        if (sequence !== previewSequence) return;
        frames.forEach((frame) => { frame.srcdoc = result.html; });
        textPart.textContent = result.text;
        status.textContent = result.empty ? status.dataset.empty : "";
        form.dispatchEvent(new CustomEvent("composer:preview", { detail: result }));
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

  // Tab markers follow the text: "missing" until a language has a subject and a body,
  // "stale" for a translation left as it was while the default language's text changed
  // (as saving would mark it), and a field error disappears once the text it complained about is whole.
  const languageTabs = document.getElementById("language-tabs");
  const initial = {};
  panels.forEach((panel) => {
    initial[panel.dataset.language] = ["subject", "preheader", "body"]
      .map((name) => field(panel.dataset.language, name).value).join("\u0000");
  });

  function textState(language) {
    const subject = field(language, "subject").value.trim();
    const body = field(language, "body").value.trim();
    if (subject && body) return "complete";
    return subject || body ? "partial" : "empty";
  }

  function edited(language) {
    const now = ["subject", "preheader", "body"].map((name) => field(language, name).value);
    return now.join("\u0000") !== initial[language];
  }

  function marker(tab, kind) {
    let badge = tab.querySelector("[data-marker=missing], [data-marker=stale]");
    if (!kind) {
      if (badge) badge.remove();
      return;
    }
    if (!badge || badge.dataset.marker !== kind) {
      if (badge) badge.remove();
      badge = document.createElement("span");
      badge.dataset.marker = kind;
      badge.textContent = languageTabs.dataset[kind];
      const error = tab.querySelector("[data-marker=error]");
      tab.insertBefore(badge, error);
    }
    const isDefault = form.dataset.issueId && tab.dataset.language === form.elements.default_language.value;
    badge.className = "badge " + (kind === "stale" ? "warn" : isDefault ? "bad" : "");
  }

  function showErrors(panel, shown) {
    panel.querySelectorAll(".field-error").forEach((error) => { error.hidden = !shown; });
    panel.querySelectorAll("[aria-invalid]").forEach((control) => {
      if (shown) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    });
  }

  function refreshMarkers() {
    const changed = tabs.filter((tab) => edited(tab.dataset.language));
    // Translations follow the default language's text: changing it makes them stale.
    const source = form.elements.default_language.value;
    const sourceChanged = changed.some((tab) => tab.dataset.language === source);
    tabs.forEach((tab) => {
      const language = tab.dataset.language;
      const state = textState(language);
      let kind = null;
      if (state !== "complete") kind = "missing";
      else if (changed.includes(tab)) kind = null;
      else if (sourceChanged || tab.dataset.savedMarker === "stale") kind = "stale";
      marker(tab, kind);
      const panel = panels.find((item) => item.dataset.language === language);
      const partial = state === "partial";
      const error = tab.querySelector("[data-marker=error]");
      if (error) error.hidden = !partial;
      showErrors(panel, partial);
    });
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

  // Each frame grows to the height of the mail, so its footer is never cut off. The frames
  // are sandboxed without scripts; allow-same-origin only lets this page measure them.
  function fitFrame(frame) {
    const page = frame.contentDocument;
    if (!page || !page.documentElement) return;
    frame.style.height = "auto"; // the mail's own height, not the frame's last one
    const height = Math.max(page.documentElement.scrollHeight, page.body ? page.body.scrollHeight : 0);
    if (height > 0) frame.style.height = height + "px";
  }
  frames.forEach((frame) => {
    frame.addEventListener("load", () => fitFrame(frame));
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fitFrame(frame);
  });

  // Phone or desktop width: both frames are kept up to date, one is shown.
  const widthTabs = Array.from(form.querySelectorAll(".preview-widths [role=tab]"));
  function showWidth(width) {
    widthTabs.forEach((tab) => {
      const selected = tab.dataset.width === width;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      const panel = document.getElementById(tab.getAttribute("aria-controls"));
      panel.hidden = !selected;
      if (selected) panel.querySelectorAll("iframe.preview").forEach(fitFrame);
    });
  }
  widthTabs.forEach((tab) => {
    tab.addEventListener("click", () => showWidth(tab.dataset.width));
  });

  form.addEventListener("input", (event) => {
    const panel = event.target.closest("[role=tabpanel][data-language]");
    if (panel) refreshMarkers();
    if (panel && panel.dataset.language === active) previewSoon();
    // A language that gains or loses its text gains or loses its variant in the counts.
    if (panel || event.target.name === "lists" || event.target.name === "audience_languages") {
      audienceSoon();
    }
  });
  form.addEventListener("change", (event) => {
    const audienceFields = ["lists", "audience_languages", "audience_event", "fallback", "default_language"];
    if (audienceFields.includes(event.target.name)) {
      audienceSoon();
    }
    if (event.target.name === "layout") previewSoon();
  });

  form.classList.add("js");
  panels.forEach((panel) => { panel.hidden = panel.dataset.language !== active; });
  tabs.forEach((tab) => { tab.tabIndex = tab.dataset.language === active ? 0 : -1; });
  showWidth("phone");
})();
