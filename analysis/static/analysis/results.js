// The results panel: while the study's bundle is queued or being built, poll its status (JSON) and show the
// progress; once it is done, show its downloads in place. Static file only: the Content-Security-Policy allows no
// inline script.
(() => {
  "use strict";
  const panel = document.getElementById("bundle");
  if (!panel) return;
  const POLL_MS = 1500;
  const UNDER_WAY = new Set(["queued", "building"]);
  const byId = id => document.getElementById(id);

  function show(id, visible) {
    byId(id).hidden = !visible;
  }

  function render(state) {
    const status = state.status;
    show("bundle-none", status === "none");
    show("bundle-building", UNDER_WAY.has(status));
    show("bundle-failed", status === "failed");
    show("bundle-ready", status === "done");
    show("bundle-build", !UNDER_WAY.has(status) && !(status === "done" && !state.stale));
    if (UNDER_WAY.has(status)) {
      const progress = byId("bundle-progress");
      progress.max = Math.max(state.steps || 1, 1);
      progress.value = state.step || 0;
      byId("bundle-stage").textContent = status === "queued"
        ? "Queued for a worker…"
        : `Building: step ${state.step || 0} of ${state.steps || "?"}…`;
    }
    if (status === "failed") byId("bundle-error").textContent = state.error;
    if (status === "done") {
      show("bundle-stale", state.stale);
      byId("bundle-zip").href = state.zip.url;
      byId("bundle-zip-size").textContent = state.zip.size_text;
      const list = byId("bundle-files");
      list.replaceChildren(...state.files.map(file => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = file.url;
        link.download = "";
        link.textContent = file.name;
        const size = document.createElement("span");
        size.className = "muted";
        size.textContent = file.size_text;
        item.append(link, " ", size);
        return item;
      }));
    }
    const button = byId("bundle-build-button");
    button.textContent = status === "failed" ? "Try again" : status === "none" ? "Build the downloads" : "Build again";
    panel.dataset.status = status;
  }

  async function poll() {
    let state;
    try {
      const response = await fetch(panel.dataset.statusUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.startsWith("application/json")) {
        byId("bundle-stage").textContent = "Progress unavailable (signed out?): reload the page.";
        return;
      }
      state = await response.json();
    } catch (error) {
      setTimeout(poll, POLL_MS * 4); // the network hiccuped: try again a little later
      return;
    }
    render(state);
    if (UNDER_WAY.has(state.status)) setTimeout(poll, POLL_MS);
  }

  byId("bundle-build").addEventListener("submit", () => {
    byId("bundle-build-button").textContent = "Building…";
  });
  if (UNDER_WAY.has(panel.dataset.status)) setTimeout(poll, POLL_MS);
})();
