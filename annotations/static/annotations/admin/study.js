/* The study's admin page: copy buttons for the links to hand out, and a State section that keeps itself up to date
   while pairs are generated (it is fetched again from its data-refresh-url and put in place of the shown one). */
"use strict";

(function () {
    function copyText(text) {
        if (navigator.clipboard && window.isSecureContext) {
            return navigator.clipboard.writeText(text);
        }
        const area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.className = "study-copy-buffer";
        document.body.appendChild(area);
        area.select();
        const copied = document.execCommand("copy");
        area.remove();
        return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
    }

    function setUp(button) {
        const target = document.getElementById(button.dataset.copyTarget);
        if (!target) {
            return;
        }
        const label = button.textContent;
        button.addEventListener("click", function () {
            copyText(target.textContent.trim()).then(
                function () {
                    button.textContent = "Copied";
                },
                function () {
                    button.textContent = "Select and copy by hand";
                    const range = document.createRange();
                    range.selectNodeContents(target);
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                }
            );
            window.setTimeout(function () {
                button.textContent = label;
            }, 2500);
        });
    }

    function refreshState(failures) {
        const section = document.querySelector("section.study-state[data-refresh-url]");
        if (!section || failures >= 5) {
            return;
        }
        const seconds = Number(section.dataset.refreshSeconds) || 3;
        window.setTimeout(function () {
            fetch(section.dataset.refreshUrl, {credentials: "same-origin", headers: {"Accept": "text/html"}})
                .then(function (response) {
                    if (!response.ok) {
                        throw new Error("state " + response.status);
                    }
                    return response.text();
                })
                .then(function (html) {
                    const holder = document.createElement("div");
                    holder.innerHTML = html.trim();
                    const fresh = holder.querySelector("section.study-state");
                    if (fresh && section.isConnected) {
                        section.replaceWith(fresh);
                    }
                    refreshState(0);
                })
                .catch(function () {
                    refreshState(failures + 1);  // e.g. a restart of the site: look again, a few times
                });
        }, seconds * 1000);
    }

    function start() {
        document.querySelectorAll("button[data-copy-target]").forEach(setUp);
        refreshState(0);
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
