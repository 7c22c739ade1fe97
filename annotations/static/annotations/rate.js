// The rating page: keys, background submit, preloading the next pair. A static file, not an inline
// script, so that the Content-Security-Policy can forbid inline scripts.
(function () {
  var form = document.getElementById("rating-form");
  var button = document.getElementById("submit");
  // The screen's images by place: "left" and "right", or "1" to K on a screen of every condition's image.
  var figures = Array.prototype.slice.call(form.querySelectorAll("figure[data-side]"));
  // Every scale on the page, Image A's first: one per image and criterion, each a group of radio buttons.
  var fields = Array.prototype.map.call(form.querySelectorAll("fieldset.scale"), function (scale) {
    return scale.dataset.field;
  });
  var active = 0;
  var sent = false;
  function chosen(field) { return form.querySelector('input[name="' + field + '"]:checked'); }
  function update() { button.disabled = sent || !fields.every(chosen); }
  function activate(index) {
    active = index;
    var scale = document.getElementById("scale-" + fields[index]);
    var figure = scale.closest("figure");
    figures.forEach(function (f) { f.classList.toggle("active", f === figure); });
    fields.forEach(function (field, i) { document.getElementById("scale-" + field).classList.toggle("active", i === index); });
  }
  form.addEventListener("change", function (event) {
    var index = fields.indexOf(event.target.name);
    if (index >= 0) { activate(index); }
    update();
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (/^[0-9]$/.test(event.key)) {
      var value = event.key === "0" ? "10" : event.key;
      // a choice's answers name their keys (1: Image A, 2: Image B, 0: equally good); a scale's are its scores
      var input = form.querySelector('input[name="' + fields[active] + '"][data-key="' + event.key + '"]') ||
        form.querySelector('input[name="' + fields[active] + '"][value="' + value + '"]');
      if (!input) { return; }  // a key past the criterion's scale (8 on a 1–7 scale) scores nothing
      input.checked = true;
      input.focus({preventScroll: true});
      update();
      event.preventDefault();
    } else if (event.key === "Tab") {
      // each scale in turn (Image A's, then Image B's, ...) -> Submit (once all are scored) -> the first scale;
      // Shift+Tab goes the other way
      var order = fields.map(function (field, i) { return i; });
      if (!button.disabled) { order.push("submit"); }
      var here = document.activeElement === button ? "submit" : active;
      var step = event.shiftKey ? order.length - 1 : 1;
      var next = order[(order.indexOf(here) + step) % order.length];
      if (next === "submit") {
        button.focus({preventScroll: true});
      } else {
        activate(next);
        (chosen(fields[next]) || form.querySelector('input[name="' + fields[next] + '"]')).focus({preventScroll: true});
        // a page of many criteria scrolls: bring the scale the keys now score into sight (else a no-op)
        document.getElementById("scale-" + fields[next]).scrollIntoView({block: "nearest"});
      }
      event.preventDefault();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (!button.disabled) { form.requestSubmit(button); }
    }
  });
  function showError(message) {
    var error = document.getElementById("error");
    if (!error) {
      error = document.createElement("p");
      error.id = "error";
      error.className = "error";
      error.setAttribute("role", "alert");
      document.querySelector(".prompt-box").append(error);
    }
    error.textContent = message;
  }
  function preload(links) {
    return links.map(function (link) { var image = new Image(); image.src = link; return image; });
  }
  // "Pair 8 of 50" ("Set 8 of 50" on a screen of more images), from the position and total every answer carries;
  // the window's title says it too.
  function showProgress(pair) {
    var remaining = document.getElementById("remaining");
    var text = remaining.dataset.unit + " " + pair.position + " of " + pair.total;
    remaining.textContent = text;
    document.title = document.title.replace(/^\w+ \d+ of \d+/, text);
  }
  // The next pair replaces this one once all its images are decoded (they were preloaded), all at once.
  function show(pair) {
    var images = preload(figures.map(function (f) { return pair.images[f.dataset.side]; }));
    Promise.all(images.map(function (image) { return image.decode().catch(function () {}); })).then(function () {
      form.elements.assignment.value = pair.assignment;
      document.getElementById("prompt").textContent = pair.prompt;
      showProgress(pair);
      figures.forEach(function (f) { f.querySelector("img").src = pair.images[f.dataset.side]; });
      form.querySelectorAll("fieldset.scale input").forEach(function (input) { input.checked = false; });
      var error = document.getElementById("error");
      if (error) { error.remove(); }
      preload(pair.preload);
      if (document.activeElement) { document.activeElement.blur(); }
      sent = false;
      activate(0);
      update();
      window.scrollTo(0, 0);
    });
  }
  // Submit in the background and show the next pair from the answer; a lost connection is retried with the same
  // scores (the server stores one answer per pair). An answer that is a page, not JSON (a refusal, say), or that
  // cannot be read is left to the browser: the form is posted the plain way.
  function send(data, attempt) {
    fetch(form.action, {method: "POST", body: data, headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) { form.submit(); return; }
        return response.json().then(function (answer) {
          if (answer.redirect) {
            window.location.assign(answer.redirect);
          } else if (answer.error) {
            showError(answer.error);
            sent = false;
            update();
          } else {
            show(answer.pair);
          }
        });
      }, function () {
        if (attempt < 4) {
          setTimeout(function () { send(data, attempt + 1); }, 500 * (attempt + 1));
        } else {
          form.submit();
        }
      })
      .catch(function () { form.submit(); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sent) { return; }
    sent = true;
    update();
    send(new URLSearchParams(new FormData(form)), 0);  // urlencoded: the lighter form to parse
  });
  activate(0);
  update();
})();
