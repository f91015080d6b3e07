// Marks the page once htmx has run: deferred scripts run in document order, and this one comes
// after htmx's, which is skipped when its file cannot be loaded (an unreachable CDN, a wrong
// hash). Until then, and without JavaScript, filter forms keep their submit buttons
// (tanggap.css hides `.js-htmx .filter-submit`): they are plain GET forms.
(function () {
  "use strict";
  if (window.htmx) document.documentElement.classList.add("js-htmx");
})();
