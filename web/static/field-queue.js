// Field-work forms sent without signal wait here (IndexedDB, in the phone) until they can be sent:
// each as it was filled in, its photos included, with the case version the officer started on.
// Shared by the service worker (field-sw.js, which puts a form in when sending it fails) and the
// pages (field.js, which lists the waiting forms and sends them once the network is back).
(function (scope) {
  "use strict";
  var NAME = "tanggap-field", STORE = "waiting";

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, work) {  // one transaction; resolves with what ``work`` returns once it is written
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), result;
        var store = tx.objectStore(STORE);
        Promise.resolve(work(store)).then(function (r) { result = r; });
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = function (event) { db.close(); reject(event.target.error || tx.error); };
        tx.onabort = function () { db.close(); reject(tx.error || new Error("aborted")); };
      });
    });
  }

  function asPromise(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  scope.tanggapQueue = {
    // entry: {user (id, a string), url, title, labels: {field: label}, fields: [[name, string or File]],
    // queued_at; then state: waiting / sending / changed / conflict / refused, status, message, tries}
    replace: function (entry) {  // a form sent again for the same task by the same officer is the one that counts
      entry.state = "waiting";
      return run("readwrite", function (store) {
        return asPromise(store.getAll()).then(function (all) {
          return Promise.all(all.filter(function (e) { return e.url === entry.url && e.user === entry.user; })
            .map(function (e) { return asPromise(store.delete(e.id)); }));
        }).then(function () { return asPromise(store.add(entry)); });
      });
    },
    all: function () {
      return run("readonly", function (store) { return asPromise(store.getAll()); });
    },
    update: function (id, changes) {
      return run("readwrite", function (store) {
        return asPromise(store.get(id)).then(function (entry) {
          if (!entry) return null;
          Object.keys(changes).forEach(function (k) { entry[k] = changes[k]; });
          return asPromise(store.put(entry)).then(function () { return entry; });
        });
      });
    },
    remove: function (id) {
      return run("readwrite", function (store) { return asPromise(store.delete(id)); });
    },
    forget: function (user) {  // at logout: nothing of the officer stays in the phone
      return run("readwrite", function (store) {
        return asPromise(store.getAll()).then(function (all) {
          return Promise.all(all.filter(function (e) { return e.user === user; })
            .map(function (e) { return asPromise(store.delete(e.id)); }));
        });
      });
    }
  };
})(self);
