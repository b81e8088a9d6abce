// The post editor's enhancements. Everything works without this file: the Preview button submits the
// form and the server renders the preview. With it: the preview updates in place, the word count is
// live, and leaving with unsaved changes asks first.
(function () {
  "use strict";
  var form = document.querySelector("form.editor");
  if (!form) { return; }
  var source = form.querySelector("textarea[name=source]");
  var pane = document.getElementById("preview");
  var counter = document.getElementById("word-count");
  var label = form.getAttribute("data-words-label") || "%(words)s / %(minutes)s";
  var dirty = false;
  var timer = null;

  // Words as readers will see them, so the estimate matches the published byline: images and Markdown's
  // own marks (table rules, pipes, #, *, backticks) are not words; a link counts by its text.
  function words(text) {
    var prose = text
      .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/gm, " ")
      .replace(/[|#>*_`~]+/g, " ");
    return prose.split(/\s+/).filter(function (word) { return /[\p{L}\p{N}]/u.test(word); }).length;
  }

  function updateCount() {
    if (!counter || !source) { return; }
    var n = words(source.value);
    var lang = document.documentElement.lang || undefined; // numbers as the page's language writes them
    counter.textContent = label.replace("%(words)s", n.toLocaleString(lang))
      .replace("%(minutes)s", Math.max(1, Math.round(n / 230)).toLocaleString(lang));
  }

  function refreshPreview() {
    var data = new FormData(form);
    data.set("action", "preview");
    return fetch(form.getAttribute("data-preview-url"), {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("preview failed: " + response.status); }
      return response.text();
    }).then(function (html) {
      pane.innerHTML = html; // server-rendered through the same sanitizer readers get
    }).catch(function () {
      form.querySelector("[data-preview]").removeAttribute("data-preview"); // fall back to a normal submit
    });
  }

  form.addEventListener("input", function () {
    dirty = true;
    updateCount();
    if (pane && pane.childElementCount) {
      clearTimeout(timer);
      timer = setTimeout(refreshPreview, 700);
    }
  });

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-preview]");
    if (!button || !pane) { return; }
    event.preventDefault();
    refreshPreview().then(function () { pane.scrollIntoView({ behavior: "smooth", block: "start" }); });
  });

  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
  updateCount();
})();
