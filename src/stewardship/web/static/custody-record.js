/* Progressive help on the custody recording page: when the transformation changes, its
   typical yield (published by the page in #typical-yields) replaces the total output's
   help text. The page works without it. */
(function () {
  "use strict";
  var source = document.getElementById("typical-yields");
  var select = document.getElementById("field-transformation");
  var help = document.getElementById("help-total_output_kg");
  if (!source || !select || !help) { return; }
  var typical = JSON.parse(source.getAttribute("data-typicals") || "{}");
  select.addEventListener("change", function () {
    if (typical[select.value]) { help.textContent = typical[select.value]; }
  });
})();
