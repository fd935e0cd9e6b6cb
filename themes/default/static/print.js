// Print buttons (no inline handlers: the CSP allows only same-origin scripts)
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
