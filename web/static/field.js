// The field view: how far each task is from the officer, when they ask (the location stays in
// the phone: nothing is sent).
(function () {
  "use strict";
  var button = document.getElementById("show-distance");
  var status = document.getElementById("distance-status");
  if (!button || !("geolocation" in navigator)) return;
  button.hidden = false;
  function km(a, b, c, d) {
    var r = Math.PI / 180, h = Math.pow(Math.sin((c - a) * r / 2), 2) +
      Math.cos(a * r) * Math.cos(c * r) * Math.pow(Math.sin((d - b) * r / 2), 2);
    return 2 * 6371 * Math.asin(Math.sqrt(h));
  }
  button.addEventListener("click", function () {
    if (status) status.textContent = button.getAttribute("data-locating") || "";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var cards = Array.prototype.slice.call(document.querySelectorAll(".task-card"));
      cards.forEach(function (card) {
        var d = km(pos.coords.latitude, pos.coords.longitude, +card.dataset.lat, +card.dataset.lon);
        var out = card.querySelector(".distance");
        out.textContent = " · " + (d < 1 ? Math.round(d * 1000) + " m" : d.toFixed(1).replace(".", ",") + " km");
        out.hidden = false;
      });
      if (status) status.textContent = "";
    }, function () { if (status) status.textContent = button.getAttribute("data-failed") || ""; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
})();
