// Asks before destructive form submissions: any <form data-confirm="Question?">.
// Without JavaScript the form simply submits; the server-side action must therefore
// be safe to reach without this prompt (it is a convenience, not a safeguard).
(() => {
  'use strict';

  // One listener on the document (submit bubbles) covers forms added later too.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm')) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
})();
