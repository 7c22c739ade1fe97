// The finish page: a button that copies the completion code to the clipboard and says so. Shown only where a
// script runs; without one the code is plain text to select by hand.
(function () {
  var button = document.getElementById("copy-code");
  var note = document.getElementById("copy-note");
  var code = document.getElementById(button.dataset.copies);
  var label = button.textContent;
  var timer = null;
  function say(copied, message) {
    button.classList.toggle("copied", copied);
    button.textContent = copied ? "Copied" : label;
    note.textContent = message;
    clearTimeout(timer);
    if (copied) {
      timer = setTimeout(function () { say(false, ""); }, 4000);
    }
  }
  // Where the clipboard cannot be written (an old browser, a page not served over HTTPS), the code is selected
  // for the annotator to copy with the keyboard.
  function selectCode() {
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say(false, "The code is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
  }
  button.addEventListener("click", function () {
    var text = code.textContent.trim();
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      selectCode();
      return;
    }
    navigator.clipboard.writeText(text).then(function () {
      say(true, "Copied the code " + text + " to the clipboard.");
    }, selectCode);
  });
  button.hidden = false;
})();
