// Copy buttons: a button with data-copy="ID" copies the text of element ID and says so to screen readers.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const live = document.getElementById('live');
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    if (live) live.textContent = 'Copied to the clipboard.';
  } catch {
    // No clipboard (an insecure page, a refused permission): select the text so it can be copied by hand.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (live) live.textContent = 'Selected: press Ctrl+C to copy.';
  }
});
