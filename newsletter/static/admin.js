// Behaviour every admin page shares, without inline handlers (the CSP allows no inline script).
(function () {
  "use strict";
  // A select that takes effect as soon as it changes (the UI language).
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
  // A button that asks before it destroys something.
  document.querySelectorAll("[data-question]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-question"))) {
        event.preventDefault();
      }
    });
  });
})();
