/* After a failed submit: the error summary at the top of <main> takes the focus (so it is
   read out and in view), the address of the POST gives way to the form's own page (so a
   reload shows that page afresh instead of sending the form again), and a summary link
   moves the focus into its field. Pages work without it: the summary is already first. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (!summary) { return; }
  var page = summary.getAttribute("data-form-page");
  if (page && window.history && window.history.replaceState) {
    try { window.history.replaceState(null, "", page); } catch (ignored) { /* other origin */ }
  }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#field-']") : null;
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    var control = field.matches("fieldset") ? field.querySelector("input, select, textarea") : field;
    event.preventDefault();
    field.scrollIntoView({ block: "center" });
    (control || field).focus({ preventScroll: true });
  });
})();
