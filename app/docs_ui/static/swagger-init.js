// Swagger UI for GP Online. Loaded from this site (the docs CSP allows no inline script).
// Configuration comes from the script tag's data-config attribute (app/docs_ui).
(function () {
  "use strict";
  var config = JSON.parse(document.currentScript.dataset.config);
  var UNSAFE = { POST: 1, PUT: 1, PATCH: 1, DELETE: 1 };

  function cookie(name) {
    var prefix = name + "=";
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].indexOf(prefix) === 0) return decodeURIComponent(parts[i].slice(prefix.length));
    }
    return null;
  }

  function sameSite(url) {
    return new URL(url, window.location.href).origin === window.location.origin;
  }

  // Double-submit CSRF: the cookie is readable by this page's script only. Read it at
  // each request, so signing in again (or in another tab) never leaves a stale token.
  function withCsrf(request) {
    var method = (request.method || "GET").toUpperCase();
    var token = cookie(config.csrfCookie);
    if (UNSAFE[method] && token && sameSite(request.url)) {
      request.headers = request.headers || {};
      request.headers[config.csrfHeader] = token;
    }
    return request;
  }

  function text(element, value) {
    element.appendChild(document.createTextNode(value));
  }

  function link(element, label, href) {
    var a = document.createElement("a");
    a.href = href;
    text(a, label);
    element.appendChild(a);
  }

  function showSession() {
    var line = document.getElementById("gp-session");
    var signIn = config.root + "/v1/auth/login?return_to=" + encodeURIComponent("/docs");
    fetch(config.root + "/v1/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        line.textContent = "";
        if (response.status !== 200) {
          text(line, "Not signed in.");
          link(line, "Sign in (development NHS login)", signIn);
          return null;
        }
        return response.json().then(function (me) {
          var name = [me.given_name, me.family_name].filter(Boolean).join(" ") || "someone";
          var practice = me.practice ? ", " + me.practice.ods_code : "";
          text(line, "Signed in as " + name + " (" + me.identity_level + practice + ").");
          var out = document.createElement("button");
          out.type = "button";
          out.id = "gp-sign-out";
          text(out, "Sign out");
          out.addEventListener("click", function () {
            fetch(config.root + "/v1/auth/logout", withCsrf({
              url: config.root + "/v1/auth/logout", method: "POST", credentials: "same-origin"
            })).then(function () { window.location.reload(); });
          });
          line.appendChild(out);
          link(line, "Sign in as someone else", signIn);
        });
      })
      .finally(function () { line.hidden = false; });
  }

  window.ui = SwaggerUIBundle({
    url: config.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    persistAuthorization: config.persistAuthorization,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    requestInterceptor: withCsrf
  });
  if (config.sessionLine) showSession();
})();
