// The media library's enhancements. Everything works without this file: the form uploads through the
// app and the Markdown field can be selected by hand. With it: files go straight to storage when the
// server offers it, the copy buttons work, and the status of images being processed updates in place.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = (form || document).querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function postJSON(url, body, token) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body || {}),
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { var error = new Error(data.error || String(response.status)); error.refused = true; throw error; }
        return data;
      });
    });
  }

  // ---- copy Markdown ----
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) { return; }
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      var done = function () {
        button.textContent = button.getAttribute("data-copied-label") || label;
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      }
    });
  });

  // ---- uploads straight to storage ----
  var form = document.querySelector("form.media-upload[data-direct-url]");
  if (form) {
    var progress = form.querySelector(".media-upload-progress");
    var say = function (text) { if (progress) { progress.textContent = text; } };
    form.addEventListener("submit", function (event) {
      var input = form.querySelector("input[type=file]");
      var files = input && input.files ? Array.prototype.slice.call(input.files) : [];
      if (!files.length || !window.fetch || !window.FormData) { return; } // the server answers as usual
      event.preventDefault();
      var token = csrfToken(form);
      var alt = (form.querySelector("input[name=alt_text]") || {}).value || "";
      var errors = [];
      var chain = Promise.resolve();
      files.forEach(function (file) {
        chain = chain.then(function () {
          say((form.getAttribute("data-working-label") || "%(name)s").replace("%(name)s", file.name));
          return postJSON(form.getAttribute("data-direct-url"),
                          { filename: file.name, content_type: file.type, size: file.size, alt_text: alt }, token)
            .then(function (start) {
              var data = new FormData();
              Object.keys(start.fields).forEach(function (name) { data.append(name, start.fields[name]); });
              data.append("file", file); // last: storage ignores fields after the file
              return fetch(start.url, { method: "POST", body: data }).then(function (response) {
                if (!response.ok) { throw new Error(form.getAttribute("data-failed-label")); }
                return postJSON(start.complete_url, {}, token);
              });
            })
            .catch(function (error) {
              if (!error.refused) { throw error; } // storage unreachable: fall back below
              errors.push(file.name + ": " + error.message);
            });
        });
      });
      chain.then(function () {
        if (errors.length) { say(errors.join(" ")); } else { window.location.reload(); }
      }, function () {
        form.submit(); // no direct route to storage (network, CORS): upload through the app instead
      });
    });
  }

  // ---- status of images being processed ----
  var grid = document.querySelector(".media-grid");
  if (!grid) { return; }
  var labels = {};
  try { labels = JSON.parse(grid.getAttribute("data-status-labels") || "{}"); } catch (e) { labels = {}; }
  var busy = ["uploaded", "processing"];
  var rounds = 0;

  function check(item) {
    return fetch(item.getAttribute("data-status-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || data.status === item.getAttribute("data-status")) { return; }
        item.setAttribute("data-status", data.status);
        var label = item.querySelector("[data-status-label]");
        if (label) { label.textContent = labels[data.status] || data.status; label.className = "status media-status-" + data.status; }
        var message = item.querySelector("[data-status-message]");
        if (message) { message.textContent = data.message || ""; }
        var thumb = item.querySelector("img.media-placeholder");
        if (thumb && data.thumbnail) { thumb.src = data.thumbnail; thumb.classList.remove("media-placeholder"); }
      })
      .catch(function () { /* try again next round */ });
  }

  function poll() {
    rounds += 1;
    var waiting = Array.prototype.slice.call(grid.querySelectorAll(".media-item")).filter(function (item) {
      return busy.indexOf(item.getAttribute("data-status")) >= 0;
    });
    if (!waiting.length || rounds > 60) { return; }
    Promise.all(waiting.map(check)).then(function () { setTimeout(poll, Math.min(1000 * rounds, 5000)); });
  }
  setTimeout(poll, 1000);
})();
