// Asks before destructive form submissions: any <form data-confirm="Question?">.
// Once the person says yes here, the form carries confirmed=yes so the server skips
// its own confirmation page; without JavaScript that page asks instead.
(() => {
  'use strict';

  // One listener on the document (submit bubbles) covers forms added later too.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm')) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (!form.querySelector('input[name="confirmed"]')) {
      const confirmed = document.createElement('input');
      confirmed.type = 'hidden';
      confirmed.name = 'confirmed';
      confirmed.value = 'yes';
      form.append(confirmed);
    }
  });
})();
