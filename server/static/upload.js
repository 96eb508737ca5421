// Upload page enhancement: drag and drop, several files at once, live progress.
// Without this script the form still posts one file to /upload the ordinary way.
// No innerHTML anywhere: file names and server messages go in through textContent.
(() => {
  'use strict';

  const ENDPOINT = '/api/v1/images';
  // The server lets one account have UPLOADS_PER_USER (default 2) uploads in flight;
  // a 429 or 503 (a lower limit, or a busy server) waits its Retry-After and tries again.
  const MAX_PARALLEL = 2;
  const MAX_ATTEMPTS = 5;
  const MIB = 1024 * 1024;
  const NETWORK_ERROR = 'Network error — check your connection and try again.';

  function init() {
    const form = document.getElementById('upload-form');
    const input = document.getElementById('file-input');
    const list = document.getElementById('upload-list');
    const zone = document.getElementById('drop-zone');
    if (!form || !input || !list) return;

    const meta = document.querySelector('meta[name="csrf-token"]');
    const field = form.querySelector('input[name="csrf_token"]');
    const csrf = (meta && meta.content) || (field && field.value) || '';

    // The server's size limit, as the page states it (data-max-bytes on the form). If
    // the page does not say, nothing is refused here and the server judges every file.
    const maxBytes = /^[0-9]+$/.test(form.dataset.maxBytes || '')
      ? Number(form.dataset.maxBytes)
      : 0;
    const sizeChecked = Number.isSafeInteger(maxBytes) && maxBytes > 0;

    const queue = [];
    let active = 0;
    let succeeded = 0;
    let galleryLinkShown = false;

    // Rounded up, so a file just over the limit never reads as the limit itself.
    const mib = (bytes) => (Math.ceil((bytes / MIB) * 10) / 10).toFixed(1);
    // The limit: whole MiB as such ("5"), otherwise rounded down to a tenth.
    const limitMib = (bytes) => (bytes % MIB === 0
      ? String(bytes / MIB)
      : (Math.floor((bytes / MIB) * 10) / 10).toFixed(1));

    // Builds an element; text always goes in as text, never as markup.
    function el(tag, className = '', text = '') {
      const node = document.createElement(tag);
      node.className = className;
      node.textContent = text;
      return node;
    }

    function addItem(file) {
      const li = el('li', 'upload-item');
      li.dataset.state = 'queued';
      const name = file.name || 'Unnamed file';
      const progress = el('progress');
      progress.max = 100;
      progress.value = 0;
      progress.setAttribute('aria-label', `Upload progress: ${name}`);
      const status = el('span', 'status', 'Waiting…');
      li.append(el('span', 'name', name), progress, status);
      list.append(li);
      return { file, li, progress, status };
    }

    function setState(job, state, text) {
      job.li.dataset.state = state;
      job.status.textContent = text;
      // While busy, screen readers hold back the per-percent chatter of the live list
      // and announce only the outcome.
      if (state === 'uploading') job.li.setAttribute('aria-busy', 'true');
      else job.li.removeAttribute('aria-busy');
    }

    const fail = (job, message) => setState(job, 'error', message);

    function succeed(job, body) {
      succeeded += 1;
      job.progress.value = 100;
      setState(job, 'done', 'Saved');
      const id = body && typeof body.id === 'string' ? body.id : '';
      if (id) {
        const link = el('a', '', 'View');
        link.href = `/images/${encodeURIComponent(id)}`;
        link.setAttribute('aria-label', `View ${job.file.name || 'image'}`);
        job.li.append(link);
      }
    }

    function parseJson(text) {
      try { return JSON.parse(text); } catch { return null; }
    }

    function send(job) {
      active += 1;
      setState(job, 'uploading', 'Uploading 0\u00a0%');

      const xhr = new XMLHttpRequest();
      // Same-origin, so the session cookie goes along without withCredentials.
      xhr.open('POST', ENDPOINT);
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Accept', 'application/json');

      xhr.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        const pct = Math.min(100, Math.floor((event.loaded / event.total) * 100));
        job.progress.value = pct;
        job.status.textContent = `Uploading ${pct}\u00a0%`;
      });
      // All bytes sent; the server now checks, strips and encrypts the image.
      xhr.upload.addEventListener('load', () => {
        job.progress.value = 100;
        job.status.textContent = 'Processing…';
      });

      xhr.addEventListener('load', () => {
        const body = parseJson(xhr.responseText);
        // Only 201 counts: a redirect to an HTML sign-in page would also end in 2xx.
        if (xhr.status === 201) {
          succeed(job, body);
          return;
        }
        if ((xhr.status === 429 || xhr.status === 503) && (job.attempts || 1) < MAX_ATTEMPTS) {
          retryLater(job, xhr.getResponseHeader('Retry-After'));
          return;
        }
        const message = body && body.error && typeof body.error.message === 'string'
          ? body.error.message
          : `Upload failed (HTTP ${xhr.status}). Try again.`;
        fail(job, message);
      });
      xhr.addEventListener('error', () => fail(job, NETWORK_ERROR));
      xhr.addEventListener('loadend', () => {
        active -= 1;
        pump();
      });

      const data = new FormData();
      data.append('file', job.file, job.file.name);
      xhr.send(data);
    }

    function retryLater(job, retryAfter) {
      job.attempts = (job.attempts || 1) + 1;
      const seconds = Math.min(30, Math.max(1, Number.parseInt(retryAfter || '5', 10) || 5));
      job.status.textContent = `Waiting ${seconds}\u00a0s for the server…`;
      active += 1; // keeps its place until it is sent again
      setTimeout(() => {
        active -= 1;
        queue.unshift(job);
        pump();
      }, seconds * 1000);
    }

    function pump() {
      while (active < MAX_PARALLEL && queue.length > 0) send(queue.shift());
      if (active === 0 && queue.length === 0) allDone();
    }

    function allDone() {
      if (succeeded === 0 || galleryLinkShown) return;
      galleryLinkShown = true;
      const p = el('p');
      const link = el('a', 'button', 'Go to gallery');
      link.href = '/';
      p.append(link);
      list.after(p);
    }

    function addFiles(fileList) {
      const files = Array.from(fileList || []);
      for (const file of files) {
        const job = addItem(file);
        // Only the size is checked here; the type is for the server to judge
        // (it reads the bytes, not the name).
        if (sizeChecked && file.size > maxBytes) {
          fail(job, `This file is ${mib(file.size)} MiB; the limit is ${limitMib(maxBytes)} MiB.`);
        } else {
          queue.push(job);
        }
      }
      pump();
    }

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (input.files && input.files.length > 0) {
        addFiles(input.files);
        input.value = '';
      } else {
        input.click(); // nothing chosen yet: open the picker instead of posting nothing
      }
    });

    input.addEventListener('change', () => {
      addFiles(input.files);
      // Clear it so the same file can be picked again and a later submit
      // does not send it twice.
      input.value = '';
    });

    const hasFiles = (event) =>
      !!event.dataTransfer && Array.from(event.dataTransfer.types).includes('Files');

    // Anywhere outside the drop zone, a dropped file must not replace the page
    // (the browser would navigate to it and lose the uploads in progress).
    window.addEventListener('dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      if (!zone || !zone.contains(event.target)) event.dataTransfer.dropEffect = 'none';
    });
    window.addEventListener('drop', (event) => {
      if (hasFiles(event)) event.preventDefault();
    });

    if (!zone) return;

    if (!zone.hasAttribute('role') && zone.tagName !== 'LABEL') {
      zone.setAttribute('role', 'button');
    }

    for (const type of ['dragenter', 'dragover']) {
      zone.addEventListener(type, (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault(); // marks the zone as a drop target
        event.dataTransfer.dropEffect = 'copy';
        zone.classList.add('dragover');
      });
    }
    zone.addEventListener('dragleave', (event) => {
      // dragleave also fires when moving onto a child; only leaving the zone counts.
      if (!zone.contains(event.relatedTarget)) zone.classList.remove('dragover');
    });
    zone.addEventListener('drop', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      zone.classList.remove('dragover');
      addFiles(event.dataTransfer.files);
    });

    zone.addEventListener('keydown', (event) => {
      if (event.target !== zone) return; // let the zone's own controls handle their keys
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault(); // Space would otherwise scroll the page
        input.click();
      }
    });

    // A click on the bare zone opens the picker too; clicks on controls inside it
    // (the input, its label, a button) already do something of their own.
    zone.addEventListener('click', (event) => {
      if (zone.tagName === 'LABEL') return;
      if (event.target.closest('input, label, button, a, select, textarea')) return;
      input.click();
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, { once: true });
  } else {
    init();
  }
})();
