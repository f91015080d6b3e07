// Ready texts: a tap puts the text into its field (replacing what is there only after asking).
(function () {
  "use strict";
  // without this script the buttons would do nothing: they show only now (the texts are there to copy)
  Array.prototype.forEach.call(document.querySelectorAll("button.fill"), function (b) { b.hidden = false; });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.fill");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-target"));
    if (!field) return;
    if (field.value.trim() && field.value !== button.getAttribute("data-text") &&
        !window.confirm(button.closest("details").getAttribute("data-replace") || "?")) return;
    field.value = button.getAttribute("data-text");
    field.focus();
  });
})();
