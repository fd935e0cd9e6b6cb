/* Bangban's staff and public pages: the menu that folds away on a small
   screen, and tables that read as cards on a phone (each cell names its
   column for bangban.css). Loaded from 'self' (the CSP), no framework;
   without JavaScript the menu stays open (html without data-js). */
(function () {
  document.documentElement.setAttribute("data-js", "");

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  function menus() {
    each(document.querySelectorAll("[data-menu-toggle]"), function (button) {
      var menu = document.getElementById(button.getAttribute("aria-controls"));
      if (!menu) return;
      button.addEventListener("click", function () {
        var open = menu.classList.toggle("show");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    });
  }

  function headerRow(table) {
    if (table.tHead && table.tHead.rows.length) return table.tHead.rows[0];
    var first = table.rows[0];
    if (first && first.cells.length > 1 && Array.prototype.every.call(first.cells, function (c) { return c.tagName === "TH"; })) {
      first.classList.add("card-head");
      return first;
    }
    return null;
  }

  function cards() {
    each(document.querySelectorAll("main table:not(.no-cards), .admin-body table.list"), function (table) {
      if (table.closest(".a4")) return;  // a printed sheet keeps its table (print.css)
      var head = headerRow(table);
      if (!head) return;
      var names = Array.prototype.map.call(head.cells, function (c) { return c.textContent.trim(); });
      table.classList.add("cards");
      each(table.rows, function (row) {
        if (row === head || row.parentNode === table.tHead) return;
        var column = 0;
        each(row.cells, function (cell) {
          if (cell.colSpan === 1 && names[column] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", names[column]);
          column += cell.colSpan;
        });
      });
    });
  }

  // a table that may grow wider than the page scrolls in its own box (not on an A4 sheet)
  function scrollers() {
    each(document.querySelectorAll("main table"), function (table) {
      if (table.closest(".a4, .table-scroll") || table.parentNode.closest("table")) return;
      var box = document.createElement("div");
      box.className = "table-scroll";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  function ready() { menus(); cards(); scrollers(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
