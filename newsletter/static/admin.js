// Behaviour every admin page shares, without inline handlers (the CSP allows no inline script).
(function () {
  "use strict";

  // A select that takes effect as soon as it changes (the UI language).
  document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // A button that asks before it destroys something.
  document.querySelectorAll("[data-question]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.question)) event.preventDefault();
    });
  });
})();
