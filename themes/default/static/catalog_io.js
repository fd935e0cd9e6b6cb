// Catalog import/export jobs: submit in the background, poll the progress.
(function () {
  "use strict";
  var box = document.getElementById("job");
  function show(job) {
    box.hidden = false;
    document.getElementById("job-stage").textContent = job.stage || "";
    var bar = document.getElementById("job-progress");
    bar.max = Math.max(job.total || 1, 1);
    bar.value = job.done || 0;
    document.getElementById("job-status").textContent = job.status;
    box.dataset.status = job.status;
    var link = document.getElementById("job-download");
    if (job.download) { link.href = job.download; link.hidden = false; }
    var list = document.getElementById("job-problems");
    list.innerHTML = "";
    (job.problems || []).forEach(function (p) {
      var li = document.createElement("li"); li.textContent = p; list.appendChild(li);
    });
  }
  function poll(url) {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      show(job);
      if (job.status === "running") { setTimeout(function () { poll(url); }, 400); }
    });
  }
  document.querySelectorAll("form.js-job").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (job) {
          show(job);
          if (job.id) { poll(form.action.replace(/(export|import)$/, "job/" + job.id)); }
        });
    });
  });
})();
