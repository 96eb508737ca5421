// Share links, enhanced: the gallery counts the ticked images and keeps "Share
// selected…" off until one is ticked; the page of a new link copies it with one press.
// Without JavaScript the forms work as they are (the link can be selected by hand).
(() => {
  'use strict';

  const selection = document.getElementById('selection');
  if (selection) {
    const button = document.getElementById('share-selected');
    const count = document.getElementById('selection-count');
    const idle = count.textContent;
    const update = () => {
      const ticked = selection.querySelectorAll('input[name="image"]:checked').length;
      button.disabled = ticked === 0;
      count.textContent = ticked === 0 ? idle : `${ticked} selected`;
      for (const box of selection.querySelectorAll('input[name="image"]')) {
        box.closest('li').classList.toggle('selected', box.checked);
      }
    };
    selection.addEventListener('change', update);
    update();
  }

  for (const button of document.querySelectorAll('button[data-copy]')) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById('copy-status');
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = 'Copied. Paste it where you want to share it.';
      } catch {
        field.focus();
        field.select();
        status.textContent = 'Press Ctrl+C (⌘C on a Mac) to copy the selected link.';
      }
    });
  }
  // The link is most often copied by hand: one click selects all of it.
  for (const field of document.querySelectorAll('.share-url input[readonly]')) {
    field.addEventListener('focus', () => field.select());
  }
})();
