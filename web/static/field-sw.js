// The field view's service worker (served as /sw.js, scope /). It keeps, per officer, a copy of
// the field view, of the task pages listed on it and of their photos, so that a phone without
// signal still shows the day's work; pages are always asked of the network first. Logging out
// (or the server answering with the login page) deletes every copy.
"use strict";

var PREFIX = "tanggap-field-";
var KEPT = /^\/(lapangan|tasks\/\d+|cases\/attachments\/\d+|static\/[\w.\/-]+)$/;

function purge() {
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0; })
      .map(function (n) { return caches.delete(n); }));
  });
}

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "purge") { event.waitUntil(purge()); return; }
  if (data.type !== "keep" || !data.user) return;
  var name = PREFIX + data.user;
  event.waitUntil(caches.keys().then(function (names) {  // another officer's copies go first
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0 && n !== name; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return caches.open(name); }).then(function (cache) {
    return Promise.all((data.urls || []).filter(function (u) { return KEPT.test(u); }).map(function (u) {
      return fetch(u, { credentials: "same-origin", redirect: "manual" }).then(function (response) {
        if (!response.ok || response.type !== "basic") return;
        var kept = cache.put(u, response.clone());
        if (!/^\/tasks\//.test(u)) return kept;
        return Promise.all([kept, response.text().then(function (html) {  // the page's own files too
          var files = [], found, pattern = /(?:src|href)="(\/static\/[^"?#]+)"/g;
          while ((found = pattern.exec(html)) !== null) files.push(found[1]);
          return cache.addAll(files.filter(function (f) { return KEPT.test(f); }));
        })]);
      }).catch(function () { /* offline already: keep what there is */ });
    }));
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;  // CDN files: the browser's own handling
  if (request.method === "POST" && url.pathname === "/logout") {
    event.respondWith(purge().then(function () { return fetch(request); }));
    return;
  }
  if (request.method !== "GET" || !KEPT.test(url.pathname)) return;
  event.respondWith(fetch(request).then(function (response) {
    if (response.redirected && new URL(response.url).pathname === "/login") {
      return purge().then(function () { return response; });  // the session is over
    }
    return response;
  }).catch(function () {
    return caches.keys().then(function (names) {
      var mine = names.filter(function (n) { return n.indexOf(PREFIX) === 0; })[0];
      return mine ? caches.open(mine).then(function (c) { return c.match(url.pathname); }) : undefined;
    }).then(function (kept) { return kept || Response.error(); });
  }));
});
