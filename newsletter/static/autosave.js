// Autosave of a draft in the composer: the whole form is posted a few seconds after typing
// stops and when the page is hidden. The answer carries each language's new version, which
// the form sends as its base with the next save. A refusal (someone else saved meanwhile,
// the issue is no longer a draft) is shown and autosave stops; "Save" then compares texts.
(function () {
  "use strict";

  const form = document.getElementById("composer");
  const status = document.getElementById("autosave-status");
  if (!form || !status || !form.dataset.autosaveUrl) return;

  const delay = Number(form.dataset.autosaveDelay) || 3000;
  let timer = null;
  let inFlight = false;
  let again = false;
  let dirty = false;
  let stopped = false;
  let submitting = false;

  function show(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
  }

  function takeVersions(versions) {
    Object.keys(versions || {}).forEach((language) => {
      const field = form.elements["variant_" + language + "-version"];
      if (field) field.value = String(versions[language]);
    });
  }

  function takeStates(states) {
    Object.keys(states || {}).forEach((language) => {
      ["tab-state-", "state-"].forEach((prefix) => {
        const badge = document.querySelector(`[data-testid="${prefix}${language}"]`);
        if (badge && badge.textContent !== states[language]) {
          badge.textContent = states[language];
          badge.className = "badge";
        }
      });
    });
  }

  // The first autosave of a new issue creates its draft: from then on this page edits it.
  function becomeEditPage(result) {
    if (form.dataset.issueId || !result.issue_id) return;
    form.dataset.issueId = String(result.issue_id);
    form.action = result.edit_url;
    form.dataset.autosaveUrl = result.autosave_url;
    history.replaceState(null, "", result.edit_url);
  }

  function save() {
    timer = null;
    if (stopped || submitting || !dirty) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    dirty = false;
    fetch(form.dataset.autosaveUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => response.json().then(
        (result) => ({ ok: response.ok, result }),
        // Only the CSRF check answers an HTML page: the form's token has expired.
        () => ({ ok: false, result: response.status === 400 ? { error: status.dataset.expired, stop: true } : {} }),
      ))
      .then(({ ok, result }) => {
        if (ok) {
          takeVersions(result.versions);
          takeStates(result.states);
          becomeEditPage(result);
          if (!dirty) show(result.saved_at, "saved");
          return;
        }
        dirty = true;
        show(result.error || status.dataset.failed, "error");
        if (result.stop) stop();
      })
      .catch(() => {
        dirty = true;
        show(status.dataset.failed, "error");
      })
      .finally(() => {
        inFlight = false;
        if (again) {
          again = false;
          soon();
        }
      });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(save, delay);
  }

  function changed() {
    if (stopped) return;
    dirty = true;
    show(status.dataset.unsaved, "unsaved");
    soon();
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", () => {
    submitting = true;
    clearTimeout(timer);
  });
  // Leaving the page: the last changes go out with the page (no answer is awaited).
  window.addEventListener("pagehide", () => {
    if (stopped || submitting || !dirty || inFlight || !navigator.sendBeacon) return;
    navigator.sendBeacon(form.dataset.autosaveUrl, new FormData(form));
  });
})();
