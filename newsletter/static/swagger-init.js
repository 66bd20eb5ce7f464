// Starts Swagger UI on the API docs page with the configuration the page carries.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  window.ui = window.SwaggerUIBundle(JSON.parse(container.getAttribute("data-config")));
})();
