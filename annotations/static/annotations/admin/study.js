/* The study's admin page: copy buttons for the links to hand out. */
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

    function start() {
        document.querySelectorAll("button[data-copy-target]").forEach(setUp);
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
