/* The click-to-call confirm page: with auto-confirm on, it presses its own Call button. */
"use strict";
(function () {
  var form = document.getElementById("confirm");
  if (form && form.getAttribute("data-auto-confirm") === "1") { form.submit(); }
})();
