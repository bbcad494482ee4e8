// Officials' pages: a form whose answer is a one-time download (the mailing file, the letters)
// leaves the page where it was, still offering to do it again. Once such a form is sent, it
// is replaced by what was done (the element its data-once attribute names), so the page offers
// nothing stale. Without JavaScript, sending it again issues nothing new and says so.
for (const form of document.querySelectorAll("form[data-once]")) {
  form.addEventListener("submit", () => {
    const done = document.getElementById(form.dataset.once);
    setTimeout(() => {
      form.hidden = true;
      for (const field of form.querySelectorAll("input[type=password]")) field.value = "";
      if (done) {
        done.hidden = false;
        done.focus();
      }
    }, 0);
  });
}
