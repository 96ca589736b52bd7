// The dashboard page: one event stream (state, then samples), tiles and charts for the live view,
// and the simulator's controls (POSTs carry the token in a header). No framework.
'use strict'
;(function () {
  const { fmt, fmtMs, fmtBytes, makeChart } = window.WB
  const token = new URLSearchParams(location.search).get('token') || ''
  const $ = (selector) => document.querySelector(selector)
  const LEVEL_COLORS = { memory: '#c62828', log: '#1565c0', disk: '#2e7d32', store: '#6a1b9a' }
  const LEVELS = ['memory', 'log', 'disk', 'store']

  const charts = {
    rate: makeChart(
      $('#chart-rate'),
      [
        { label: 'writes/s', color: '#1565c0' },
        { label: 'reads/s', color: '#00897b' },
        { label: 'store rows/s', color: '#ef6c00' },
      ],
      fmt,
      (s) => [s.writesPerSec, s.readsPerSec, s.rowsPerSec],
    ),
    latency: makeChart(
      $('#chart-latency'),
      LEVELS.flatMap((level) => [
        { label: `${level} p50`, color: LEVEL_COLORS[level], dash: [4, 4] },
        { label: `${level} p99`, color: LEVEL_COLORS[level] },
      ]),
      fmtMs,
      (s) => LEVELS.flatMap((level) => (s.ack[level] ? [s.ack[level].p50Ms, s.ack[level].p99Ms] : [null, null])),
    ),
    backlog: makeChart(
      $('#chart-backlog'),
      [
        { label: 'backlog entries', color: '#6a1b9a' },
        { label: 'dead letters', color: '#c62828' },
      ],
      fmt,
      (s) => [s.backlog, s.deadLetters],
    ),
    age: makeChart(
      $('#chart-age'),
      [
        { label: 'oldest unflushed', color: '#1565c0' },
        { label: 'flush.maxDelayMs', color: '#9e9e9e', dash: [6, 4] },
        { label: 'staleness alert', color: '#c62828', dash: [2, 4] },
      ],
      fmtMs,
      (s) => [s.oldestMs, s.maxDelayMs, s.stalenessMs],
    ),
  }
  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()))

  let state = { mode: 'simulator', results: [] }
  let shownRun = -1
  let formFilled = false

  // ---- the live tiles
  const TILES = [
    ['writes', 'writes/s'],
    ['reads', 'reads/s'],
    ['hit', 'hit ratio'],
    ['ack', 'ack p50 / p99'],
    ['backlog', 'backlog / cap'],
    ['oldest', 'oldest unflushed'],
    ['rows', 'store rows/s'],
    ['coalescing', 'writes per row'],
    ['circuit', 'circuit'],
    ['dead', 'dead letters'],
    ['log', 'log bytes / fsyncs'],
    ['acked', 'writes acked (run)'],
  ]
  $('#tiles').innerHTML = TILES.map(
    ([id, label]) => `<div class="tile" id="t-${id}"><span class="label">${label}</span><span class="value" id="v-${id}">–</span><span class="sub" id="s-${id}"></span></div>`,
  ).join('')
  const tile = (id, value, sub, alert) => {
    $(`#v-${id}`).textContent = value
    $(`#s-${id}`).textContent = sub || ''
    $(`#t-${id}`).classList.toggle('alert', Boolean(alert))
  }

  function showSample(s) {
    const level = state.run ? state.run.settings.durability : LEVELS.find((l) => s.ack[l])
    const ack = level && s.ack[level]
    tile('writes', fmt(s.writesPerSec))
    tile('reads', fmt(s.readsPerSec))
    tile('hit', s.hitRatio == null ? '–' : (s.hitRatio * 100).toFixed(1) + ' %')
    tile('ack', ack ? `${fmtMs(ack.p50Ms)} / ${fmtMs(ack.p99Ms)}` : '–', level || '')
    tile('backlog', fmt(s.backlog), s.backlogCap == null ? 'no cap' : `of ${fmt(s.backlogCap)} (${((100 * s.backlog) / s.backlogCap).toFixed(1)} %)`, s.backlogCap != null && s.backlog >= s.backlogCap)
    tile('oldest', fmtMs(s.oldestMs), `maxDelayMs ${fmtMs(s.maxDelayMs)}${s.stalenessMs == null ? '' : `, alert at ${fmtMs(s.stalenessMs)}`}${s.stale ? ' STALE' : ''}`, s.stale)
    tile('rows', fmt(s.rowsPerSec))
    tile('coalescing', s.coalescing ? s.coalescing.toFixed(2) : '–')
    tile('circuit', s.circuit, '', s.circuit === 'open')
    tile('dead', fmt(s.deadLetters), '', s.deadLetters > 0)
    tile('log', s.logBytes == null ? 'no log' : fmtBytes(s.logBytes), s.fsyncs == null ? '' : `${fmt(s.fsyncs)} fsyncs`)
    for (const chart of Object.values(charts)) chart.push(s)
  }

  // ---- the simulator's state
  function showState(next) {
    state = next
    $('#mode').textContent = state.mode === 'cache' ? `cache "${state.name}" (live view of your app)` : 'failure simulator'
    $('#sim').hidden = state.mode !== 'simulator'
    if (state.mode !== 'simulator') return
    if (!formFilled) fillForm(state.defaults)
    const run = state.run
    if (run && run.id !== shownRun) {
      shownRun = run.id
      for (const chart of Object.values(charts)) chart.reset()
      charts.latency.only((label) => label.startsWith(`${run.settings.durability} `))
    }
    const writing = Boolean(run && run.phase === 'writing')
    document.querySelectorAll('[data-fault]').forEach((b) => (b.disabled = !writing))
    if (run) {
      $('[data-fault="store-down"]').classList.toggle('on', run.faults.down)
      $('[data-fault="store-slow"]').classList.toggle('on', run.faults.delayMs > 0)
      $('[data-fault="poison"]').classList.toggle('on', run.faults.poisonShare > 0)
    }
    const phase = $('#phase')
    phase.dataset.phase = run ? run.phase : 'idle'
    phase.dataset.run = run ? String(run.id) : ''
    phase.textContent = run ? describe(run) + (state.queued ? ` (${state.queued} more queued)` : '') : state.results.length ? 'idle: the last run is below' : 'idle: pick settings and start a run'
    if (run) tile('acked', fmt(run.acked), `run ${run.id}`)
    showResults(state.results)
  }

  function describe(run) {
    const s = run.settings
    const what = `run ${run.id}: ${s.durability}, ${s.workload}, ${s.writers} writers, ${s.store}`
    const plan = run.plan ? ` (${run.plan.crash === 'power' ? 'power cut' : 'kill -9'} after ${run.plan.afterMs / 1000} s)` : ''
    const phases = {
      starting: 'starting the workload…',
      writing: `writing${plan}`,
      crashed: 'crashed: checking the store…',
      recovering: 'restarted: replaying the log and draining…',
      done: 'done',
      failed: 'failed',
    }
    return `${what}: ${phases[run.phase] || run.phase}`
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
  }

  function faultName(r) {
    const crash = { kill: 'kill -9', power: 'power cut', none: 'stop (drained)' }[r.crash]
    return r.storeFaults.length ? `${crash} + ${r.storeFaults.join(', ')}` : crash
  }

  function showResults(results) {
    $('#outcome').hidden = results.length === 0
    if (results.length === 0) return
    $('#results tbody').innerHTML = results
      .slice()
      .reverse()
      .map(
        (r) =>
          `<tr data-run="${r.id}" data-lost="${r.lost}"><td>${r.id}</td><td>${r.settings.durability}</td><td>${faultName(r)}</td>` +
          `<td>${fmt(r.acked)}</td><td>${fmt(r.writesPerSec)}</td><td>${fmtMs(r.p99Ms)}</td><td>${fmt(r.missingAtCrash)}</td>` +
          `<td>${fmt(r.recovered)}</td><td class="lost ${r.lost > 0 ? 'bad' : 'good'}">${r.lost.toLocaleString('en')}${r.deadLettered ? ` <small title="acknowledged writes whose key went to the dead-letter queue">(+${fmt(r.deadLettered)} in DLQ)</small>` : ''}${r.error ? ' <small>(error)</small>' : ''}</td>` +
          `<td>${r.lost > 0 ? fmtMs(r.lossWindowMs) : '–'}</td><td>${r.promised.ms == null ? 'unbounded' : fmtMs(r.promised.ms)}</td></tr>`,
      )
      .join('')
    const r = results[results.length - 1]
    const lostClass = r.lost > 0 ? 'bad' : 'good'
    $('#last-result').innerHTML =
      `<div>run ${r.id}, ${r.settings.durability}, ${faultName(r)}<br><span class="big ${lostClass}" id="last-lost" data-run="${r.id}">${r.lost.toLocaleString('en')}</span> acknowledged writes lost` +
      ` (${r.lostKeys.toLocaleString('en')} keys) of ${r.acked.toLocaleString('en')}</div>` +
      `<div>missing right after the crash<br><span class="big">${r.missingAtCrash.toLocaleString('en')}</span></div>` +
      `<div>recovered from the log<br><span class="big good">${r.recovered.toLocaleString('en')}</span>${r.replayed ? ` (${fmt(r.replayed.records)} records replayed)` : ''}</div>` +
      (r.deadLettered ? `<div>in the dead-letter queue (poisoned)<br><span class="big">${r.deadLettered.toLocaleString('en')}</span> writes</div>` : '') +
      `<div>loss window measured / promised<br><span class="big">${r.lost > 0 ? fmtMs(r.lossWindowMs) : '0'}</span> / ${r.promised.text}</div>` +
      (r.error ? `<div class="bad">error: ${escapeHtml(r.error)}</div>` : '')
  }

  // ---- controls
  function fillForm(defaults) {
    const form = $('#settings')
    for (const [name, value] of Object.entries(defaults || {})) {
      const input = form.elements.namedItem(name)
      if (!input) continue
      if (input.type === 'checkbox') input.checked = Boolean(value)
      else input.value = String(value)
    }
    formFilled = true
  }
  function readForm() {
    const form = $('#settings')
    const settings = {}
    for (const input of form.elements) {
      if (!input.name) continue
      settings[input.name] = input.type === 'checkbox' ? input.checked : input.type === 'number' ? Number(input.value) : input.value
    }
    return settings
  }
  function plan() {
    return { crash: $('#crash-kind').value, afterMs: Math.round(Number($('#crash-after').value) * 1000) }
  }
  async function post(action, body) {
    $('#error').hidden = true
    const response = await fetch(`api/${action}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-writebehind-token': token }, body: JSON.stringify(body) })
    if (!response.ok) {
      const error = await response.json().catch(() => ({ error: response.statusText }))
      $('#error').textContent = error.error
      $('#error').hidden = false
    }
  }
  $('#start').addEventListener('click', () => post('run', { settings: readForm(), plan: $('#auto-crash').checked ? plan() : undefined }))
  $('#compare').addEventListener('click', () => post('compare', { settings: readForm(), plan: plan() }))
  document.querySelectorAll('[data-fault]').forEach((button) => button.addEventListener('click', () => post('fault', { fault: button.dataset.fault })))

  // ---- the stream
  const events = new EventSource(`events?token=${encodeURIComponent(token)}`)
  events.addEventListener('open', () => {
    $('#conn').dataset.state = 'open'
    $('#conn').textContent = 'live'
  })
  events.addEventListener('error', () => {
    $('#conn').dataset.state = 'closed'
    $('#conn').textContent = 'disconnected (retrying)'
  })
  events.addEventListener('state', (e) => showState(JSON.parse(e.data)))
  events.addEventListener('sample', (e) => {
    const { run, acked, sample } = JSON.parse(e.data)
    if (state.mode === 'simulator' && run !== shownRun) return
    showSample(sample)
    if (acked !== undefined) tile('acked', fmt(acked), `run ${run}`)
  })
})()
