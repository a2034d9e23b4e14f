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

  // A random (version 4) UUID. crypto.randomUUID exists only in secure contexts, and
  // the page may be served over plain http on a LAN address (make run HOST=0.0.0.0).
  function newUuid() {
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
      hex.slice(20)].join("-");
  }

  // Each operation taking an Idempotency-Key (app/idempotency/deps.py) gets a new UUID
  // as its example each time the page loads, so "Try it out" starts filled in. The same
  // key is sent again until the page is reloaded: a repeat is a retry, as it should be.
  function withFreshIdempotencyKeys(specText) {
    var spec;
    try {
      spec = JSON.parse(specText);
    } catch (notJson) {
      return specText;
    }
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      Object.keys(item).forEach(function (method) {
        (item[method].parameters || []).forEach(function (parameter) {
          if (parameter.in === "header" && /^idempotency-key$/i.test(parameter.name || "")) {
            parameter.example = newUuid();
          }
        });
      });
    });
    return JSON.stringify(spec);
  }

  function FreshIdempotencyKeys() {
    return {
      statePlugins: {
        spec: {
          wrapActions: {
            updateSpec: function (original) {
              return function (specText) {
                var text = typeof specText === "string" ? withFreshIdempotencyKeys(specText) : specText;
                return original(text);
              };
            }
          }
        }
      }
    };
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

  // Dev: signing in belongs to the public address (PUBLIC_BASE_URL), whose cookie is kept
  // for that address only. A page opened at another one says so, and signs in there.
  var publicBase = config.publicBaseUrl;
  var elsewhere = Boolean(publicBase) && new URL(publicBase).origin !== window.location.origin;

  function showAddress() {
    var note = document.getElementById("gp-address");
    var here = window.location.origin;
    if (elsewhere) {
      text(note, "You opened this page at " + here + ", but signing in belongs to " +
        publicBase + " (PUBLIC_BASE_URL): the sign-in cookie is kept for that address only.");
      link(note, "Open Swagger UI at " + publicBase + "/docs", publicBase + "/docs");
      text(note, " " + unreachableHint(new URL(publicBase)));
    } else if (!config.publicKeepsCookie) {
      text(note, "Signing in cannot work at " + here + ": browsers keep the sign-in cookie " +
        "over plain http only at a loopback address such as 127.0.0.1. Serve the site over " +
        "https, or set PUBLIC_BASE_URL to http://127.0.0.1 with a port forwarded here.");
    } else {
      return;
    }
    note.hidden = false;
  }

  // What to do when the public address does not open from this browser.
  function unreachableHint(target) {
    if (window.isSecureContext) {
      // Browsers keep the cookie here too: the service can use this address instead.
      return "If that does not open from here, start the service with PUBLIC_BASE_URL=" +
        window.location.origin + ".";
    }
    if (target.protocol !== "http:" || !config.publicKeepsCookie) return "";
    var port = target.port || "80";
    return "If that does not open from here (another computer), forward the port first (ssh -N -L " + port +
      ":127.0.0.1:" + (window.location.port || "80") + " " + window.location.hostname +
      "), or serve the site over https and set PUBLIC_BASE_URL to its address.";
  }

  function showSession() {
    var line = document.getElementById("gp-session");
    var signIn = (elsewhere ? publicBase : config.root) + "/v1/auth/login?return_to=" +
      encodeURIComponent("/docs");
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
    plugins: [FreshIdempotencyKeys],
    requestInterceptor: withCsrf
  });
  if (publicBase) showAddress();
  if (config.sessionLine) showSession();
})();
