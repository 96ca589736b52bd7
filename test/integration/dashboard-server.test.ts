/**
 * The dashboard server's doors, over real HTTP on loopback: it binds 127.0.0.1 on a random port
 * with a random token; the page and the event stream need the token in the query, POSTs in the
 * `x-writebehind-token` header; any Host but this loopback address and port is refused (403). And
 * `mountDashboard` streams samples of a real cache's stats.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { WriteBehindCache } from '../../src/core/write-behind-cache.js'
import { MemoryStore } from '../../src/stores/memory-store.js'
import { mountDashboard } from '../../src/cli/dashboard/mount.js'
import { startDashboardServer, type DashboardServer } from '../../src/cli/dashboard/server.js'
import type { DashboardSource } from '../../src/cli/dashboard/source.js'

interface Reply {
  status: number
  type: string
  body: string
}

function request(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Reads an event stream until `count` events came; returns them as [event, data]. */
function readEvents(port: number, path: string, count: number): Promise<Array<[string, unknown]>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`))
      let buffer = ''
      const events: Array<[string, unknown]> = []
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event !== undefined && data !== undefined) events.push([event, JSON.parse(data)])
          if (events.length >= count) {
            req.destroy()
            return resolve(events)
          }
        }
      })
    })
    req.on('error', reject)
  })
}

/** A raw HTTP/1.0 request without a Host header (http.request always sends one). */
function withoutHost(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(`GET ${path} HTTP/1.0\r\n\r\n`))
    let text = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('dashboard server', () => {
  const actions: unknown[] = []
  const listeners = new Set<(event: string, data: unknown) => void>()
  const source: DashboardSource = {
    snapshot: () => ({ mode: 'test', n: 1 }),
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    action: (name, body) => {
      if (name !== 'echo') return undefined
      actions.push(body)
      return Promise.resolve({ echoed: body })
    },
  }
  let server: DashboardServer
  let port: number
  let token: string

  before(async () => {
    server = await startDashboardServer(source)
    port = server.port
    token = server.token
  })
  after(() => server.close())

  it('listens on 127.0.0.1 only, on a random port, with a long random token, and prints a URL with it', async () => {
    assert.match(token, /^[0-9a-f]{64}$/)
    assert.equal(server.url, `http://127.0.0.1:${port}/?token=${token}`)
    const other = await startDashboardServer(source)
    try {
      assert.notEqual(other.token, token)
      assert.notEqual(other.port, port)
    } finally {
      await other.close()
    }
  })

  it('serves the page with the token, and refuses it without or with a wrong one', async () => {
    const page = await request(port, `/?token=${token}`)
    assert.equal(page.status, 200)
    assert.match(page.type, /text\/html/)
    assert.match(page.body, /writebehind/)
    assert.equal((await request(port, '/')).status, 403)
    assert.equal((await request(port, `/?token=${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`)).status, 403)
    assert.equal((await request(port, `/?token=${token}x`)).status, 403)
    assert.equal((await request(port, '/?token=')).status, 403)
  })

  it('serves the assets, uPlot included, and nothing else', async () => {
    for (const name of ['app.js', 'charts.js', 'app.css', 'uPlot.iife.min.js', 'uPlot.min.css']) {
      const reply = await request(port, `/assets/${name}`)
      assert.equal(reply.status, 200, name)
    }
    assert.match((await request(port, '/assets/uPlot.iife.min.js')).body, /uPlot/)
    assert.equal((await request(port, '/assets/../server.ts')).status, 404)
    assert.equal((await request(port, '/assets/source.ts')).status, 404)
    assert.equal((await request(port, '/nothing')).status, 404)
  })

  it('refuses any Host header but this loopback address and port (DNS rebinding), even with the token', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`, `0.0.0.0:${port}`]) {
      const reply = await request(port, `/?token=${token}`, { headers: { host } })
      assert.equal(reply.status, 403, host)
      assert.match(reply.body, /Host header/)
      assert.equal((await request(port, `/events?token=${token}`, { headers: { host } })).status, 403, host)
      assert.equal((await request(port, '/api/echo', { method: 'POST', headers: { host, 'x-writebehind-token': token }, body: '{}' })).status, 403, host)
      assert.equal((await request(port, '/assets/app.js', { headers: { host } })).status, 403, host)
    }
    assert.match(await withoutHost(port, `/?token=${token}`), /^HTTP\/1\.[01] 403/)
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      assert.equal((await request(port, `/?token=${token}`, { headers: { host } })).status, 200, host)
    }
  })

  it('streams state first, then the source events, only with the token', async () => {
    await assert.rejects(readEvents(port, '/events', 1), /status 403/)
    await assert.rejects(readEvents(port, '/events?token=nope', 1), /status 403/)
    const reading = readEvents(port, `/events?token=${token}`, 2)
    while (listeners.size === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    for (const listener of listeners) listener('sample', { x: 42 })
    assert.deepEqual(await reading, [
      ['state', { mode: 'test', n: 1 }],
      ['sample', { x: 42 }],
    ])
  })

  it('takes POSTs only with the token header (never from the query), and answers 404 for an unknown action', async () => {
    const body = JSON.stringify({ a: 1 })
    assert.equal((await request(port, '/api/echo', { method: 'POST', body })).status, 403)
    assert.equal((await request(port, `/api/echo?token=${token}`, { method: 'POST', body })).status, 403)
    assert.equal((await request(port, '/api/echo', { method: 'POST', headers: { 'x-writebehind-token': 'wrong' }, body })).status, 403)
    assert.equal(actions.length, 0, 'no refused POST reached the source')
    const ok = await request(port, '/api/echo', { method: 'POST', headers: { 'x-writebehind-token': token }, body })
    assert.equal(ok.status, 200)
    assert.deepEqual(JSON.parse(ok.body), { echoed: { a: 1 } })
    assert.equal((await request(port, '/api/other', { method: 'POST', headers: { 'x-writebehind-token': token }, body })).status, 404)
    assert.equal((await request(port, '/api/echo', { method: 'POST', headers: { 'x-writebehind-token': token }, body: '{nope' })).status, 400)
    assert.equal((await request(port, `/?token=${token}`, { method: 'DELETE' })).status, 405)
  })
})

describe('mountDashboard', () => {
  it("streams samples of an app's own cache: writes per second and the backlog", async () => {
    const cache = await WriteBehindCache.open<number>({ store: new MemoryStore(), name: 'app', flush: { intervalMs: 60_000 } })
    const server = await mountDashboard(cache, { sampleEveryMs: 50, maxStalenessMs: 2000 })
    try {
      for (let i = 0; i < 50; i++) void cache.set(`k${i}`, i)
      const reading = readEvents(server.port, `/events?token=${server.token}`, 4)
      const writing = setInterval(() => {
        for (let i = 0; i < 50; i++) void cache.set(`k${i}`, i)
      }, 10)
      const events = await reading
      clearInterval(writing)
      assert.deepEqual(events[0], ['state', { mode: 'cache', name: 'app' }])
      const samples = events.slice(1).map(([, data]) => (data as { sample: { writesPerSec: number; backlog: number; stalenessMs: number } }).sample)
      assert.ok(
        samples.some((s) => s.writesPerSec > 0),
        JSON.stringify(samples),
      )
      assert.ok(samples.every((s) => s.backlog > 0 && s.backlog <= 50 && s.stalenessMs === 2000))
    } finally {
      await server.close()
      await cache.close()
    }
  })
})
