// The public map /peta: the reports of the filtered feed (/peta.geojson, every page of it, up to
// MAX_PAGES) as clustered markers. Without JavaScript or Leaflet, the table below is the page.
(function () {
  "use strict";
  var holder = document.getElementById("public-map");
  if (!holder || !window.L || !L.markerClusterGroup) return;
  var cfg = JSON.parse(holder.getAttribute("data-config"));
  if (!cfg.centre) return;
  var MAX_PAGES = 20;
  var status = document.getElementById("map-status");
  holder.hidden = false;
  var map = L.map(holder.querySelector(".map")).setView(cfg.centre, 12);
  L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: cfg.attribution }).addTo(map);
  var clusters = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  map.addLayer(clusters);

  function text(value) { var span = document.createElement("span"); span.textContent = value; return span.innerHTML; }
  function popup(p) {
    return "<strong>" + text(p.category_name) + "</strong><br>" + text(p.status_name) + "<br>" +
      text(p.kecamatan) + " · " + text(cfg.labels.reported) + " " + text(p.reported_on) +
      "<br><small>" + text(p.number) + "</small>";
  }

  var bounds = [];
  function load(url, page) {
    if (status) status.textContent = cfg.labels.loading;
    fetch(url, { headers: { "Accept": "application/geo+json" } }).then(function (r) { return r.json(); })
      .then(function (data) {
        var markers = (data.features || []).map(function (f) {
          var ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
          bounds.push(ll);
          var marker = L.circleMarker(ll, { radius: 7, weight: 2, className: "report-" + f.properties.status });
          marker.bindPopup(popup(f.properties));
          return marker;
        });
        clusters.addLayers(markers);
        if (data.next && page < MAX_PAGES) {  // same site, whatever scheme a proxy made the link
          var next = new URL(data.next, window.location.href);
          load(next.pathname + next.search, page + 1);
          return;
        }
        if (status) status.textContent = "";
        if (bounds.length) map.fitBounds(bounds, { maxZoom: 16, padding: [20, 20] });
      }).catch(function () { if (status) status.textContent = ""; });
  }
  load(cfg.feed, 1);
})();
