// "Print" buttons: any <button data-print>. Without JavaScript the browser's own print
// command does the same.
(() => {
  'use strict';
  for (const button of document.querySelectorAll('[data-print]')) {
    button.addEventListener('click', () => window.print());
  }
})();
