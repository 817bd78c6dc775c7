// The design page's live preview: as the colours, font and footer change, the preview frame
// is loaded again with them in its URL (a GET that changes nothing). No other script runs in
// the console; without it the preview form loads the frame, and saving updates it.
(function () {
  "use strict";
  var form = document.getElementById("design-form");
  var frame = document.getElementById("preview");
  var previewForm = document.getElementById("preview-form");
  if (!form || !frame || !previewForm) {
    return;
  }
  var timer = null;
  function previewUrl() {
    var params = new URLSearchParams(new FormData(previewForm));
    form.querySelectorAll("[data-preview]").forEach(function (field) {
      params.set(field.name, field.value);
    });
    return previewForm.getAttribute("action") + "?" + params.toString();
  }
  function refresh() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      frame.src = previewUrl();
    }, 300);
  }
  form.addEventListener("input", function (event) {
    if (event.target.hasAttribute("data-preview")) {
      refresh();
    }
  });
  previewForm.addEventListener("change", refresh);
  var widths = document.querySelector(".widths");
  if (widths) {
    widths.hidden = false;
    widths.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-width]");
      if (!button) {
        return;
      }
      widths.querySelectorAll("button").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
      frame.classList.toggle("narrow-frame", button.dataset.width === "narrow");
    });
  }
})();
