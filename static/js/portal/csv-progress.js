// Poll the upload's progress endpoint until it is finished, updating the bar and the counts.
(function () {
  const box = document.getElementById("csv-progress");
  if (!box || box.dataset.finished === "true") return;
  const bar = box.querySelector("progress");
  const report = box.querySelector("[data-error-report]");
  async function poll() {
    let progress;
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(String(response.status));
      progress = await response.json();
    } catch (error) {
      setTimeout(poll, 5000);
      return;
    }
    bar.value = progress.percent;
    bar.textContent = progress.percent + "%";
    for (const name of ["processed_rows", "accepted", "rejected", "duplicates"]) {
      const cell = box.querySelector(`[data-field="${name}"]`);
      if (cell) cell.textContent = progress[name];
    }
    if (progress.finished) {
      // Reload once for the final, translated status and the report link.
      window.location.reload();
      return;
    }
    if (progress.error_report_url) report.hidden = false;
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
