/* The study form: a preset fills width, height, steps and guidance; a newly chosen model gives its training size
   to width and height until they are set by hand or by a preset; pasted prompts are counted, repeats flagged. */
"use strict";

(function () {
    function field(name) {
        return document.getElementById("id_" + name);
    }

    function setValue(input, value) {
        if (input && !input.disabled && !input.readOnly) {
            input.value = String(value);
            input.dispatchEvent(new Event("change", {bubbles: true}));
        }
    }

    function sizesSetByHand() {
        const width = field("width");
        const height = field("height");
        return Boolean(width && height && (width.dataset.setBy === "hand" || height.dataset.setBy === "hand"));
    }

    function setUpSizes() {
        const model = field("model");
        const preset = field("preset");
        ["width", "height"].forEach(function (name) {
            const input = field(name);
            if (input) {
                input.addEventListener("input", function () {
                    input.dataset.setBy = "hand";
                });
            }
        });
        if (preset && preset.dataset.presets) {
            const presets = JSON.parse(preset.dataset.presets);
            preset.addEventListener("change", function () {
                const chosen = presets[preset.value];
                if (!chosen) {
                    return;
                }
                setValue(field("width"), chosen.width);
                setValue(field("height"), chosen.height);
                setValue(field("steps"), chosen.steps);
                setValue(field("guidance_scale"), chosen.guidance_scale);
                field("width").dataset.setBy = "hand";
            });
        }
        if (model && model.dataset.trainSizes) {
            const sizes = JSON.parse(model.dataset.trainSizes);
            model.addEventListener("change", function () {
                const size = sizes[model.value];
                if (size && !sizesSetByHand()) {
                    setValue(field("width"), size[0]);
                    setValue(field("height"), size[1]);
                }
            });
        }
    }

    function normalize(text) {
        return text.trim().split(/\s+/).join(" ");
    }

    function describe(textarea, summary) {
        const seen = new Map();
        const repeats = [];
        let count = 0;
        textarea.value.split(/\r\n|\r|\n/).forEach(function (line, index) {
            const text = normalize(line);
            if (!text) {
                return;
            }
            count += 1;
            if (seen.has(text)) {
                repeats.push("line " + (index + 1) + " repeats line " + seen.get(text));
            } else {
                seen.set(text, index + 1);
            }
        });
        summary.textContent = "";
        const counted = document.createElement("span");
        counted.className = "study-prompt-count";
        counted.textContent = count === 1 ? "1 prompt" : count + " prompts";
        summary.appendChild(counted);
        if (repeats.length) {
            const flagged = document.createElement("span");
            flagged.className = "study-prompt-duplicates";
            const noun = repeats.length === 1 ? "1 duplicate" : repeats.length + " duplicates";
            flagged.textContent = "; " + noun + ": " + repeats.join(", ") + ". Remove them before saving.";
            summary.appendChild(flagged);
        }
    }

    function setUpPrompts() {
        const textarea = field("prompt_lines");
        if (!textarea) {
            return;
        }
        const summary = document.createElement("p");
        summary.className = "help study-prompt-summary";
        summary.setAttribute("aria-live", "polite");
        // below the field, above its help text (the admin lays the label and the field out in one row)
        (textarea.closest(".flex-container") || textarea).insertAdjacentElement("afterend", summary);
        textarea.addEventListener("input", function () {
            describe(textarea, summary);
        });
        describe(textarea, summary);
    }

    function start() {
        setUpSizes();
        setUpPrompts();
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
