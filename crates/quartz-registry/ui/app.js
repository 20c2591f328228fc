// Quartz's operator page: polls the registry's JSON routes and renders them as tables.
// Everything shown comes from the chain or from whoever published a release, so text goes into
// the page only through textContent, attributes and Text nodes; never as HTML.
'use strict';

const REFRESH_MS = 3000;
const EXECUTIONS_SHOWN = 50;
const HISTORY_SHOWN = 50;

// The row the user picked; null means "the first one" (newest execution, first performer).
const selected = { performer: null, execution: null };
let refreshing = false;

const $ = (id) => document.getElementById(id);

// Creates an element; `props` may set className, text, title and data-* (dataset).
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  const { className, text, title, data } = props || {};
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (title) node.title = String(title);
  for (const [key, value] of Object.entries(data || {})) node.dataset[key] = String(value);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const td = (text, className, title) => el('td', { text: text ?? '—', className, title: title ?? undefined });

// Maps a status word to a colour class; unknown words (from untrusted data) get the neutral one.
const STATUS_CLASS = {
  active: 's-ok', succeeded: 's-ok', deployed: 's-ok', registered: 's-ok', Active: 's-ok',
  failed: 's-bad', Failed: 's-bad', inactive: 's-idle', Inactive: 's-idle', NotFound: 's-bad',
  running: 's-run', Pending: 's-run', rolledBack: 's-run', interrupted: 's-run',
  pending: 's-idle', Unknown: 's-idle',
};

function badge(status) {
  const word = status ?? 'unknown';
  const cls = Object.prototype.hasOwnProperty.call(STATUS_CLASS, word) ? STATUS_CLASS[word] : 's-idle';
  return el('td', { className: 'nowrap' }, el('span', { className: `badge ${cls}`, text: word }));
}

// "2026-12-03T19:40:01.123Z" -> "2026-12-03 19:40:01"; the full value stays in the tooltip.
function time(value) {
  if (!value) return td('—', 'nowrap');
  return td(String(value).replace('T', ' ').replace(/(\.\d+)?Z$/, ''), 'nowrap', value);
}

function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

const performerKey = (p) => `${p.avsAddress}/${p.operatorSetId}`;

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    // A non-JSON answer is reported below by its status.
  }
  if (!response.ok) {
    const reason = body && typeof body.error === 'string' ? body.error : response.statusText;
    throw new Error(`GET ${path}: HTTP ${response.status}: ${reason}`);
  }
  if (body === null) throw new Error(`GET ${path}: the answer is not JSON`);
  return body;
}

// Rows are selectable with the mouse and the keyboard.
function selectable(row, isSelected, onSelect) {
  row.className = isSelected ? 'selectable selected' : 'selectable';
  row.tabIndex = 0;
  row.setAttribute('aria-selected', isSelected ? 'true' : 'false');
  row.addEventListener('click', onSelect);
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onSelect();
    }
  });
  return row;
}

function select(kind, key) {
  selected[kind] = key;
  const params = new URLSearchParams();
  if (selected.performer) params.set('performer', selected.performer);
  if (selected.execution) params.set('execution', selected.execution);
  history.replaceState(null, '', `#${params}`);
  refresh();
}

function showList(table, empty, count, rows) {
  $(table).hidden = rows.length === 0;
  $(empty).hidden = rows.length !== 0;
  $(count).textContent = rows.length ? `(${rows.length})` : '';
  $(table).tBodies[0].replaceChildren(...rows);
}

function renderPerformers(performers, current) {
  const rows = performers.map((p) => {
    const row = el('tr', { data: { performer: performerKey(p) } },
      td(p.avsAddress, 'mono clip short', p.avsAddress),
      td(p.operatorSetId, 'num'),
      td(p.functionName, 'mono nowrap'),
      td(p.releaseId, 'num'),
      td(p.functionVersion, 'num'),
      badge(p.status),
      td(p.imageUri, 'mono clip', p.imageUri),
      time(p.updatedAt));
    return selectable(row, performerKey(p) === current, () => select('performer', performerKey(p)));
  });
  showList('performers', 'performers-empty', 'performers-count', rows);
}

function renderHistory(performer, detail, history) {
  $('performer-detail').hidden = false;
  $('history-title').textContent = performer.functionName;
  const status = detail.functionStatus || {};
  const parts = [`Function state: ${status.state ?? 'unknown'}`];
  if (status.lastModified) parts.push(`last modified ${status.lastModified}`);
  // Image functions report 0, which says nothing.
  if (typeof status.codeSize === 'number' && status.codeSize > 0) parts.push(`code size ${status.codeSize} bytes`);
  if (status.error) parts.push(status.error);
  $('function-state').textContent = parts.join(' · ');
  const rows = history.releases.map((r) => el('tr', { data: { release: r.releaseId } },
    td(r.releaseId, 'num'),
    badge(r.outcome),
    td(r.functionVersion, 'num'),
    td(r.imageUri ?? r.artifactDigest, 'mono clip', r.imageUri ?? r.artifactDigest),
    time(r.deployedAt),
    td(r.detail ?? '', 'wrap')));
  $('history').hidden = rows.length === 0;
  $('history-empty').hidden = rows.length !== 0;
  $('history').tBodies[0].replaceChildren(...rows);
}

function elapsed(summary) {
  const start = Date.parse(summary.startedAt);
  const end = summary.finishedAt ? Date.parse(summary.finishedAt) : Date.now();
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null;
}

function failure(error) {
  return error ? `${error.step}: ${error.errorType}: ${error.message}` : '';
}

function renderExecutions(executions, current) {
  const rows = executions.map((x) => {
    const row = el('tr', { data: { execution: x.id } },
      td(x.id, 'mono nowrap'),
      td(x.operatorSetId, 'num', `AVS ${x.avsAddress}, operator set ${x.operatorSetId}`),
      td(x.releaseId, 'num'),
      badge(x.status),
      td(x.currentStep, 'nowrap'),
      time(x.startedAt),
      td(duration(elapsed(x)), 'num'),
      // One line per execution: the step and error type; the message is in the tooltip and the steps.
      td(x.error ? `${x.error.step}: ${x.error.errorType}` : '', 'clip', failure(x.error)));
    return selectable(row, x.id === current, () => select('execution', x.id));
  });
  showList('executions', 'executions-empty', 'executions-count', rows);
}

function attemptLine(a) {
  const head = `#${a.attempt} ${a.outcome}${typeof a.durationMs === 'number' ? `, ${duration(a.durationMs)}` : ''}`;
  const error = [a.errorType, a.errorMessage].filter(Boolean).join(': ');
  return el('div', { className: 'attempt', text: error ? `${head} — ${error}` : head });
}

function renderExecution(detail) {
  $('execution-detail').hidden = false;
  $('execution-title').textContent = detail.id;
  const parts = [
    `AVS ${detail.avsAddress}`, `operator set ${detail.operatorSetId}`, `release ${detail.releaseId}`,
    `status ${detail.status}`, `started ${detail.startedAt}`,
  ];
  if (detail.finishedAt) parts.push(`finished ${detail.finishedAt}`);
  if (detail.error) parts.push(`failed at ${failure(detail.error)}`);
  $('execution-summary').textContent = parts.join(' · ');
  const rows = detail.steps.map((s) => {
    // Successful attempts need no line of their own; failures and retries do.
    const notable = s.attempts.filter((a) => a.outcome !== 'succeeded');
    return el('tr', { data: { step: s.step } },
      td(s.step, 'nowrap'),
      badge(s.status),
      td(s.attempts.length, 'num'),
      td(s.attempts.length ? duration(s.durationMs) : '—', 'num'),
      time(s.startedAt),
      time(s.finishedAt),
      el('td', { className: 'wrap' }, ...notable.map(attemptLine)));
  });
  $('steps').tBodies[0].replaceChildren(...rows);
  $('execution-context').textContent = JSON.stringify(detail.context, null, 2);
}

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  const errors = [];
  const attempt = async (work) => {
    try {
      await work();
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  };
  await Promise.all([
    attempt(async () => {
      const list = await getJson('/performers?limit=1000');
      const performers = list.performers;
      const chosen = performers.find((p) => performerKey(p) === selected.performer) || performers[0];
      renderPerformers(performers, chosen ? performerKey(chosen) : null);
      if (!chosen) {
        $('performer-detail').hidden = true;
        return;
      }
      const path = `/performers/${encodeURIComponent(chosen.avsAddress)}/${encodeURIComponent(chosen.operatorSetId)}`;
      const [detail, history] = await Promise.all([
        getJson(path), getJson(`${path}/releases?limit=${HISTORY_SHOWN}`),
      ]);
      renderHistory(chosen, detail, history);
    }),
    attempt(async () => {
      const list = await getJson(`/executions?limit=${EXECUTIONS_SHOWN}`);
      const executions = list.executions;
      // An execution linked to by id stays shown even when it is no longer among the newest.
      const current = selected.execution || (executions[0] && executions[0].id);
      renderExecutions(executions, current);
      if (!current) {
        $('execution-detail').hidden = true;
        return;
      }
      renderExecution(await getJson(`/executions/${encodeURIComponent(current)}`));
    }),
  ]);
  const banner = $('error');
  banner.hidden = errors.length === 0;
  banner.textContent = errors.join('\n');
  const now = new Date().toISOString().slice(11, 19);
  $('refreshed').textContent = `${errors.length ? 'Last attempt' : 'Updated'} ${now} UTC`;
  refreshing = false;
}

function start() {
  const params = new URLSearchParams(location.hash.slice(1));
  selected.performer = params.get('performer');
  selected.execution = params.get('execution');
  refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', start);
