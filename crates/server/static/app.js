// The desk's few behaviours, in one file served from /assets/app.js: the Content-Security-
// Policy allows scripts from the site itself only, never inline ones. Each part looks for
// its own element and does nothing on pages without it.
'use strict';

function csrfToken() {
  const meta = document.querySelector('meta[name=csrf-token]');
  return meta ? meta.content : '';
}

// The list page's export form: the ticked fields and rows go with it.
function wireListExport() {
  const form = document.getElementById('list-export');
  if (!form) return;
  form.addEventListener('submit', () => {
    const fields = [...form.querySelectorAll('.export-field:checked')].map((b) => b.value);
    if (fields.length) form.elements.fields.value = JSON.stringify(fields);
    const picked = [...document.querySelectorAll('input.pick:checked')].map((b) => b.value);
    let sel = form.elements.selected_items;
    if (picked.length) {
      if (!sel) {
        sel = document.createElement('input');
        sel.type = 'hidden';
        sel.name = 'selected_items';
        form.appendChild(sel);
      }
      sel.value = JSON.stringify(picked);
    } else if (sel) {
      sel.remove();
    }
  });
}

// The form page's attachment upload.
function wireUpload() {
  const form = document.getElementById('upload');
  if (!form) return;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    if (!data.get('is_private')) data.set('is_private', '0');
    const r = await fetch('/api/method/upload_file', {
      method: 'POST',
      body: data,
      headers: { 'X-Frappe-CSRF-Token': csrfToken() },
    });
    if (r.ok) {
      location.reload();
      return;
    }
    const body = await r.json().catch(() => ({ message: r.statusText }));
    const err = document.getElementById('upload-error');
    err.textContent = body.message;
    err.hidden = false;
  });
}

// The form page's "send to printer" buttons.
function wireRawPrint() {
  const menu = document.getElementById('print-menu');
  if (!menu) return;
  for (const b of document.querySelectorAll('.send-raw')) {
    b.addEventListener('click', async () => {
      const status = document.getElementById('print-status');
      status.className = 'small';
      status.textContent = 'Sending to ' + b.dataset.printer + '…';
      const body = new URLSearchParams({
        doctype: menu.dataset.doctype,
        name: menu.dataset.name,
        format: b.dataset.format,
        printer: b.dataset.printer,
      });
      const r = await fetch('/api/raw-print', {
        method: 'POST',
        body,
        headers: { 'X-Frappe-CSRF-Token': csrfToken() },
      });
      const data = await r.json().catch(() => ({ message: r.statusText }));
      if (r.ok) {
        status.textContent = 'Sent to ' + data.message.printer + ' (' + data.message.byte_count + ' bytes).';
      } else {
        status.className = 'small error';
        status.textContent = data.message;
      }
    });
  }
}

// The print view's Print button.
function wirePrintNow() {
  const button = document.getElementById('print-now');
  if (button) button.addEventListener('click', () => window.print());
}

document.addEventListener('DOMContentLoaded', () => {
  wireListExport();
  wireUpload();
  wireRawPrint();
  wirePrintNow();
});
