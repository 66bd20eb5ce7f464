// Starts Swagger UI on the API docs page with the configuration the page carries.
(function () {
  "use strict";

  const container = document.querySelector("[data-swagger-config]");
  if (!container) return;

  window.ui = window.SwaggerUIBundle(JSON.parse(container.dataset.swaggerConfig));
})();
