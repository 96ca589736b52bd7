// Number formatting and the live charts (uPlot). Axis labels are compact (1.2k, 35M, 850 µs) and
// axes sized for the longest of them, so no label is clipped.
'use strict'
;(function () {
  function fmt(n) {
    if (n == null || !Number.isFinite(n)) return '–'
    const a = Math.abs(n)
    if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'G'
    if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M'
    if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k'
    if (a >= 10 || Number.isInteger(n)) return String(Math.round(n))
    return n.toFixed(a >= 1 ? 1 : 2)
  }
  function fmtMs(ms) {
    if (ms == null || !Number.isFinite(ms)) return '–'
    if (ms === 0) return '0'
    if (ms < 1) return Math.round(ms * 1000) + ' µs'
    if (ms < 1000) return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms'
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s'
  }
  function fmtBytes(b) {
    if (b == null) return '–'
    if (b >= 1 << 30) return (b / (1 << 30)).toFixed(1) + ' GiB'
    if (b >= 1 << 20) return (b / (1 << 20)).toFixed(1) + ' MiB'
    if (b >= 1 << 10) return (b / (1 << 10)).toFixed(1) + ' KiB'
    return b + ' B'
  }

  const KEEP = 240 // points: a minute at four samples a second

  // One live chart: `lines` are { label, color, dash?, format } and `pick(sample)` returns one value per line.
  function makeChart(el, lines, format, pick) {
    const data = [[]].concat(lines.map(() => []))
    const axisSize = (u, values) => {
      if (values == null) return 50
      const longest = values.reduce((m, v) => Math.max(m, String(v).length), 0)
      return Math.max(50, 14 + longest * 7.5)
    }
    const opts = {
      width: Math.max(300, el.clientWidth || 560),
      height: 200,
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [{ label: 't', value: (u, v) => (v == null ? '–' : v.toFixed(1) + ' s') }].concat(
        lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, dash: l.dash, value: (u, v) => format(v), points: { show: false } })),
      ),
      axes: [
        { values: (u, splits) => splits.map((v) => v + ' s'), label: 'seconds since the run started', labelSize: 20, labelFont: '12px system-ui' },
        { values: (u, splits) => splits.map(format), size: axisSize },
      ],
      legend: { live: true },
    }
    const plot = new uPlot(opts, data, el)
    let pending = false
    let origin
    return {
      push(sample) {
        if (origin === undefined) origin = sample.t
        data[0].push((sample.t - origin) / 1000)
        const values = pick(sample)
        for (let i = 0; i < lines.length; i++) data[i + 1].push(values[i] == null ? null : values[i])
        if (data[0].length > KEEP) for (const series of data) series.shift()
        if (!pending) {
          pending = true
          requestAnimationFrame(() => {
            pending = false
            plot.setData(data)
          })
        }
      },
      reset() {
        origin = undefined
        for (const series of data) series.length = 0
        plot.setData(data)
      },
      // Shows only the lines whose label passes `keep` (the others stay in the legend, greyed out).
      only(keep) {
        lines.forEach((line, i) => plot.setSeries(i + 1, { show: keep(line.label) }))
      },
      resize() {
        plot.setSize({ width: Math.max(300, el.clientWidth), height: 200 })
      },
    }
  }

  window.WB = { fmt, fmtMs, fmtBytes, makeChart }
})()
