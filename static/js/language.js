// The language switcher submits itself on change (the page's Content-Security-Policy allows no
// inline handlers, so this lives here rather than in an onchange attribute).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("language-select");
  if (select) {
    select.addEventListener("change", () => select.form.submit());
  }
});
