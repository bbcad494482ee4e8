// The ballot page's behaviour with JavaScript on (the page works without it: the form then
// posts the plain choice and the server seals it). The member picks a choice and presses
// "Seal my ballot": this code seals it on the device (seal.js), shows the sealed ballot's
// tracker and offers "Cast it" or "Check it first". Casting posts only the sealed ballot — the
// choices are disabled, so the browser sends none of them; checking asks the server to log
// the ballot's choice and randomness as a challenge (never counted), shows what it held, and
// lets the member seal again. The choice and the randomness live only in this page's memory.
import { resealedTracker, seal } from './seal.js';

/** Groups a hex tracker in fours, as the receipt page shows it. */
function grouped(hex) {
  return hex.match(/.{1,4}/g).join(' ');
}

function show(el, on) {
  el.hidden = !on;
}

/** Wires the ballot page in `doc`, if it is one. */
export function initBallotPage(doc) {
  const form = doc.getElementById('ballot-form');
  if (!form || !form.dataset.key) return;
  const data = form.dataset;
  const sealedPanel = doc.getElementById('sealed');
  const checkedPanel = doc.getElementById('checked');
  const missing = doc.getElementById('choice-missing');
  const checkError = doc.getElementById('check-error');
  const castButton = doc.getElementById('cast-button');
  const radios = () => Array.from(form.querySelectorAll('input[name="choice"]'));
  let sealed = null; // { ballot, tracker, secrets } of the ballot on screen, in memory only

  castButton.textContent = data.sealLabel;
  doc.getElementById('sealing-note').textContent = data.memberNote;
  // The token leaves the address bar (and the history entry) once the page has it.
  if (doc.defaultView && doc.defaultView.location.search.includes('token=')) {
    const url = new URL(doc.defaultView.location.href);
    url.searchParams.delete('token');
    doc.defaultView.history.replaceState(null, '', url.pathname + url.search);
  }

  const toForm = () => {
    sealed = null;
    for (const r of radios()) r.checked = false;
    show(sealedPanel, false);
    show(form, true);
  };

  form.addEventListener('submit', (event) => {
    if (form.dataset.casting === 'yes') return; // the sealed ballot is on its way
    event.preventDefault();
    const picked = radios().findIndex((r) => r.checked);
    if (picked < 0) {
      missing.textContent = data.errChoice;
      show(missing, true);
      radios()[0]?.focus();
      return;
    }
    show(missing, false);
    sealed = seal(data.key, data.election, data.local, Number(data.options), picked);
    doc.getElementById('sealed-tracker').textContent = grouped(sealed.tracker);
    show(checkError, false);
    show(form, false);
    show(checkedPanel, false);
    show(sealedPanel, true);
    doc.getElementById('sealed-title').focus();
  });

  doc.getElementById('cast-sealed').addEventListener('click', () => {
    if (!sealed) return;
    form.elements.ballot.value = JSON.stringify(sealed.ballot);
    form.elements.sealing_code.value = data.code;
    // Disabled fields are never submitted: the choice stays on the device.
    for (const r of radios()) {
      r.checked = false;
      r.disabled = true;
    }
    sealed = null;
    form.dataset.casting = 'yes';
    doc.getElementById('cast-sealed').disabled = true;
    doc.getElementById('check-sealed').disabled = true;
    form.submit();
  });

  doc.getElementById('check-sealed').addEventListener('click', async () => {
    if (!sealed) return;
    const names = radios().map((r) => r.value.trim());
    const body = {
      token: form.elements.token.value,
      tracker: sealed.tracker,
      choice: names[sealed.secrets.choice],
      randomness: sealed.secrets.randomness,
      sealing_code: data.code,
    };
    let answer;
    let status;
    try {
      const response = await fetch('/api/v1/challenges', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        cache: 'no-store',
        credentials: 'same-origin',
      });
      status = response.status;
      answer = await response.json();
    } catch {
      status = 0;
      answer = {};
    }
    if (status !== 201) {
      checkError.textContent = checkError.dataset[answer.error] ?? checkError.dataset.other;
      show(checkError, true);
      return;
    }
    // What the log now holds, in the page's words: the label of the choice it held.
    const held = radios().find((r) => r.value.trim() === answer.choice);
    const label = held ? form.querySelector(`label[for="${held.id}"]`).textContent : answer.choice;
    doc.getElementById('checked-choice').textContent = label;
    const where = doc.getElementById('checked-where');
    where.textContent = where.dataset.text.replace('{entry}', String(answer.leaf_index));
    const link = doc.getElementById('checked-link');
    link.href = link.dataset.base + answer.tracker;
    toForm();
    show(checkedPanel, true);
    doc.getElementById('checked-title').focus();
  });
}

/**
 * Wires the challenge checker in `doc`, if it is one (`/check`, or the copy a member saved):
 * it fetches a checked ballot's entry from the public log and re-seals it here, with this
 * code, from its randomness — so the confirmation does not rest on the page that made it.
 */
export function initCheckPage(doc) {
  const form = doc.getElementById('check-form');
  if (!form) return;
  const data = form.dataset;
  const out = doc.getElementById('check-result');
  const labels = { yes: data.yes, no: data.no, abstain: data.abstain };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const server = form.elements.server.value.trim();
    const election = form.elements.election.value.trim().toLowerCase();
    const tracker = form.elements.tracker.value.replace(/[\s-]/g, '').toLowerCase();
    let said = data.unknown;
    try {
      const url = new URL(
        `/api/v1/elections/${encodeURIComponent(election)}/challenges/${encodeURIComponent(tracker)}`,
        server || doc.defaultView.location.href,
      );
      const response = await fetch(url, { cache: 'no-store' });
      if (response.status === 200) {
        const found = await response.json();
        const entry = JSON.parse(found.entry);
        const choice = found.choices.indexOf(entry.choice);
        const remade = resealedTracker(
          found.election_key,
          election,
          entry.local,
          found.choices.length,
          choice,
          entry.randomness,
        );
        said =
          remade === tracker && entry.tracker === tracker
            ? data.held
                .replace('{choice}', labels[entry.choice] ?? entry.choice)
                .replace('{entry}', String(found.leaf_index))
            : data.notHeld;
      }
    } catch {
      said = data.unknown;
    }
    out.textContent = said;
    show(out, true);
    out.focus();
  });
}
