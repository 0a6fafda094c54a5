// Show the service items only when "Service" is chosen: an odometer reading has none.
(function () {
  const form = document.querySelector("form.stacked");
  const items = document.querySelector("[data-service-only]");
  if (!form || !items) return;
  function update() {
    const chosen = form.querySelector("input[name=event_type]:checked");
    items.hidden = !chosen || chosen.value !== "service";
  }
  form.addEventListener("change", update);
  update();
})();
