/**
 * The dashboard's HTTP server, on loopback only. A random port and a random token unless given;
 * the token must be in the query of the page and of the event stream (`?token=`) and in the
 * `x-writebehind-token` header of every POST (a header a cross-site form cannot set). A request
 * whose Host header is not this loopback address and port is refused (403), so a DNS rebinding
 * page cannot read the stream. Static assets (public code) need no token.
 *
 *   GET  /?token=T           the page
 *   GET  /assets/<name>      its script, style and uPlot
 *   GET  /events?token=T     server-sent events: `state` first, then the source's events
 *   POST /api/<action>       JSON body, answered with JSON (source.action)
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvalidOptionError } from '../../errors.js'
import { asset } from './assets.js'
import type { DashboardSource } from './source.js'

export interface DashboardServerOptions {
  /** Port on 127.0.0.1. @default 0 (a random free port) */
  readonly port?: number
  /** The access token. @default 32 random bytes, hex */
  readonly token?: string
  /** Period of the keep-alive comment on event streams. @default 15_000 */
  readonly heartbeatMs?: number
}

export interface DashboardServer {
  /** The page's URL, token included: what to open. */
  readonly url: string
  readonly port: number
  readonly token: string
  /** Ends the streams and stops listening. Safe to call twice. */
  close(): Promise<void>
}

const TOKEN_HEADER = 'x-writebehind-token'
const MAX_BODY_BYTES = 64 * 1024
const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // The token is in the page's URL: never send it on as a referrer.
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
}

export async function startDashboardServer(source: DashboardSource, options: DashboardServerOptions = {}): Promise<DashboardServer> {
  const token = options.token ?? randomBytes(32).toString('hex')
  const streams = new Set<ServerResponse>()
  let port = 0
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => answer(response, 500, { error: error instanceof Error ? error.message : String(error) }))
  })

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!loopbackHost(request.headers.host, port)) return answer(response, 403, { error: 'refused: the Host header is not this loopback address' })
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`)
    if (request.method === 'GET' && url.pathname === '/favicon.ico') return void response.writeHead(204, HEADERS).end()
    if (request.method === 'GET' && url.pathname.startsWith('/assets/')) return sendAsset(response, url.pathname.slice('/assets/'.length))
    if (request.method === 'GET' && (url.pathname === '/' || url.pathname === '/events')) {
      if (!sameToken(url.searchParams.get('token'), token)) return answer(response, 403, { error: 'refused: a missing or wrong token (open the URL the command printed)' })
      return url.pathname === '/' ? sendAsset(response, 'index.html') : stream(response)
    }
    if (request.method === 'POST' && url.pathname.startsWith('/api/')) {
      if (!sameToken(request.headers[TOKEN_HEADER], token)) return answer(response, 403, { error: `refused: a missing or wrong ${TOKEN_HEADER} header` })
      return act(url.pathname.slice('/api/'.length), request, response)
    }
    answer(response, request.method === 'GET' || request.method === 'POST' ? 404 : 405, { error: 'not found' })
  }

  function stream(response: ServerResponse): void {
    response.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
    const send = (event: string, data: unknown): void => {
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    send('state', source.snapshot())
    const unsubscribe = source.subscribe(send)
    const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), options.heartbeatMs ?? 15_000)
    streams.add(response)
    response.once('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      streams.delete(response)
    })
  }

  async function act(name: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body: unknown
    try {
      body = JSON.parse((await readBody(request)) || '{}')
    } catch (error) {
      return answer(response, 400, { error: `the body is not JSON: ${error instanceof Error ? error.message : String(error)}` })
    }
    try {
      const result = source.action?.(name, body)
      if (result === undefined) return answer(response, 404, { error: `no action ${name}` })
      answer(response, 200, (await result) ?? { ok: true })
    } catch (error) {
      const status = error instanceof InvalidOptionError ? 400 : 409
      answer(response, status, { error: error instanceof Error ? error.message : String(error) })
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  port = (server.address() as AddressInfo).port
  let closing: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const response of streams) response.end()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

/** True for `127.0.0.1:<port>`, `localhost:<port>` and `[::1]:<port>`, nothing else. */
export function loopbackHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false
  return host === `127.0.0.1:${port}` || host.toLowerCase() === `localhost:${port}` || host === `[::1]:${port}`
}

function sameToken(given: string | string[] | null | undefined, token: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function sendAsset(response: ServerResponse, name: string): void {
  const found = asset(name)
  if (found === undefined) return answer(response, 404, { error: 'not found' })
  response.writeHead(200, { ...HEADERS, 'content-type': found.type, 'content-length': found.body.length })
  response.end(found.body)
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return void response.end()
  const text = JSON.stringify(body)
  response.writeHead(status, { ...HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

async function readBody(request: IncomingMessage): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new Error(`the body is larger than ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
