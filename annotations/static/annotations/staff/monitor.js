// The monitoring page refreshes itself: every few seconds it asks the monitor's JSON view for the study's counts,
// annotators, quota and warning signs and redraws those parts in place, without loading the page again. Static file
// only: the Content-Security-Policy allows no inline script.
(() => {
  "use strict";
  const live = document.getElementById("live");
  if (!live) return;
  const POLL_MS = 5000;
  const byId = id => document.getElementById(id);

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function seconds(value) {
    return value === null || value === undefined ? "–" : value.toFixed(1);
  }

  function row(values) {
    const tr = element("tr");
    tr.append(...values.map(value => (value instanceof Node ? value : element("td", String(value)))));
    return tr;
  }

  function flags(target, items, noneText) {
    if (!items.length) {
      target.replaceChildren(noneText);
      return;
    }
    const nodes = [];
    items.forEach((text, i) => {
      if (i) nodes.push(", ");
      nodes.push(element("span", text, "flag"));
    });
    target.replaceChildren(...nodes);
  }

  function render(data) {
    for (const cell of document.querySelectorAll("#counts [data-count]")) {
      const value = data.counts[cell.dataset.count];
      cell.textContent = cell.dataset.count === "median_seconds" ? seconds(value) : String(value);
    }

    const quota = data.quota;
    byId("quota-target").textContent = String(quota.target);
    byId("quota-rule").textContent = quota.rule;
    byId("quota-ratings").textContent = String(quota.ratings);
    byId("quota-remaining").textContent = String(quota.remaining);
    byId("quota-rate").textContent =
      quota.per_minute === null ? "–" : `${quota.per_minute.toFixed(1)} ratings a minute`;
    byId("quota-eta").textContent = quota.eta;

    flags(byId("warn-checks"), data.failed_checks.map(a => `${a.label} (${a.failed} of ${a.answered})`), "none");
    flags(byId("warn-straight"), data.straight_liners, "none");
    flags(byId("warn-speeders"), data.speeders, "none");
    byId("speed-threshold").textContent = String(data.speed_threshold);
    const position = data.position;
    if (position.warning) {
      flags(byId("warn-position"), [position.warning], "");
    } else if (position.places && Object.keys(position.places).length) {
      byId("warn-position").textContent =
        `balanced: each condition's image in each place about equally often over ${position.ratings} screens of ` +
        `${position.finished} finished annotators (χ² p = ${position.p_value.toFixed(3)})`;
    } else if (position.ratings) {
      byId("warn-position").textContent =
        `balanced: “ours” on the left in ${position.ours_left} of ${position.ratings} ratings of ` +
        `${position.finished} finished annotators`;
    } else {
      byId("warn-position").textContent = "waits for an annotator to finish (a sequence is balanced only when complete)";
    }

    const annotators = data.annotators.map(a => {
      const marks = [a.speeder ? "speeder" : "", a.straight_liner ? "same score" : ""].filter(Boolean).join(", ");
      const tr = row([
        a.label,
        a.state_display,
        `${a.answered} / ${a.total}`,
        seconds(a.median_seconds),
        a.checks_answered ? `${a.checks_failed} of ${a.checks_answered}` : "–",
        element("td", marks, "flag"),
      ]);
      tr.dataset.state = a.state;
      return tr;
    });
    if (!annotators.length) {
      const empty = element("td", "No annotators yet.", "muted");
      empty.colSpan = 6;
      annotators.push(row([empty]));
    }
    document.querySelector("#annotator-progress tbody").replaceChildren(...annotators);

    document
      .querySelector("#pairs tbody")
      .replaceChildren(...data.pairs.map(p => row(
        byId("pairs").dataset.sides === "1" ? [p.prompt, p.assigned, p.ratings, p.ours_left, p.ours_right]
          : [p.prompt, p.assigned, p.ratings])));

    live.textContent = `updated ${new Date(data.updated_at).toLocaleTimeString()}`;
  }

  async function refresh() {
    let data = null;
    try {
      const response = await fetch(live.dataset.url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.startsWith("application/json")) {
        live.textContent = "stopped updating (signed out?): reload the page";
        return; // a sign-in page or a refusal will not change by asking again
      }
      data = await response.json();
    } catch (error) {
      live.textContent = "could not update; trying again"; // the network hiccuped
    }
    if (data) render(data);
    setTimeout(refresh, POLL_MS);
  }

  setTimeout(refresh, POLL_MS);
})();
