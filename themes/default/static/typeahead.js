/* The item picker's type-ahead: asks the server (/api/items?q=…) as one
   types and lists the first matches; without JavaScript the search form
   submits and the server renders the same search. No dependencies. */
(function () {
  "use strict";
  var input = document.querySelector("input[data-typeahead]");
  if (!input) { return; }
  var list = document.getElementById(input.getAttribute("aria-controls"));
  var timer = null, asked = 0, shown = -1;

  function clear() { while (list.firstChild) { list.removeChild(list.firstChild); } }

  function badge(text) {
    var span = document.createElement("span");
    span.className = "badge";
    span.textContent = text;
    return span;
  }

  function render(items) {
    clear();
    shown = -1;
    if (!items.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = list.getAttribute("data-empty");
      list.appendChild(none);
    }
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "item-suggestion-" + i;
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.name;
      li.appendChild(a);
      if (item.frequent) { li.appendChild(badge(list.getAttribute("data-often"))); }
      if (item.high_frequency) { li.appendChild(badge(list.getAttribute("data-high"))); }
      var small = document.createElement("small");
      small.textContent = item.code + (item.department_name ? " · " + item.department_name : "");
      li.appendChild(document.createElement("br"));
      li.appendChild(small);
      list.appendChild(li);
    });
    list.hidden = false;
  }

  function ask() {
    var q = input.value.trim();
    var mine = ++asked;
    if (!q) { clear(); list.hidden = true; return; }
    var url = input.getAttribute("data-typeahead") + "?limit=10&q=" + encodeURIComponent(q);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (mine === asked) { render(items); } })
      .catch(function () { /* the form still submits */ });
  }

  function move(step) {
    var options = list.querySelectorAll("li[role=option]");
    if (!options.length) { return; }
    shown = (shown + step + options.length) % options.length;
    options.forEach(function (o, i) { o.classList.toggle("active", i === shown); });
    input.setAttribute("aria-activedescendant", options[shown].id);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { move(1); e.preventDefault(); }
    else if (e.key === "ArrowUp") { move(-1); e.preventDefault(); }
    else if (e.key === "Enter" && shown >= 0) {
      var link = list.querySelectorAll("li[role=option] a")[shown];
      if (link) { e.preventDefault(); window.location.href = link.href; }
    } else if (e.key === "Escape") { list.hidden = true; }
  });
})();
