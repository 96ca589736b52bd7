// A small leaderboard service on writebehind: the README's "A service" section, runnable.
//
//   npm run build && node examples/leaderboard/server.mjs
//   curl -X PUT localhost:3000/players/42 -d '{"score":9001}'
//   curl localhost:3000/players/42
//
// Settings from the environment: PORT (3000; 0 picks a free one), DB_PATH (leaderboard.db),
// WB_DIR (.writebehind-leaderboard), CLOSE_TIMEOUT_MS (8000: below the usual 10 s grace period
// a container gets between SIGTERM and SIGKILL).
import http from 'node:http'
import { WriteBehindCache, CacheClosedError, InvalidKeyError, InvalidValueError } from 'writebehind'
import { SqliteStore } from 'writebehind/sqlite'

const cache = await WriteBehindCache.open({
  store: new SqliteStore({ path: process.env.DB_PATH ?? 'leaderboard.db' }),
  dir: process.env.WB_DIR ?? '.writebehind-leaderboard',
  durability: 'log', // acknowledged once the dirty log has it: survives a crash of this process
  closeTimeoutMs: Number(process.env.CLOSE_TIMEOUT_MS ?? 8000),
})

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => reply(res, statusOf(error), { error: error.message, code: error.code }))
})

async function handle(req, res) {
  const match = /^\/players\/([^/]+)$/.exec(req.url ?? '')
  if (match === null) return reply(res, 404, { error: 'try /players/<id>' })
  const key = `player:${decodeURIComponent(match[1])}`
  switch (req.method) {
    case 'GET': {
      const value = await cache.get(key) // your own latest write, or read-through from SQLite
      return value === undefined ? reply(res, 404, { error: 'no such player' }) : reply(res, 200, value)
    }
    case 'PUT': {
      const body = JSON.parse(await readBody(req))
      await cache.set(key, { score: Number(body.score) }) // resolves at durability 'log'
      return reply(res, 204)
    }
    case 'DELETE':
      await cache.delete(key)
      return reply(res, 204)
    default:
      return reply(res, 405, { error: 'GET, PUT or DELETE' })
  }
}

function statusOf(error) {
  if (error instanceof CacheClosedError) return 503 // shutting down: the client may retry elsewhere
  if (error instanceof InvalidKeyError || error instanceof InvalidValueError || error instanceof SyntaxError) return 400
  return 500
}

function reply(res, status, body) {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' })
  res.end(body === undefined ? undefined : JSON.stringify(body))
}

async function readBody(req) {
  let text = ''
  for await (const chunk of req) text += chunk
  return text
}

// Graceful shutdown: stop taking requests, then drain the backlog into the store. What close()
// could not flush within closeTimeoutMs is still in the dirty log and is flushed by the next start.
let stopping
function shutdown(signal) {
  stopping ??= (async () => {
    server.close()
    const report = await cache.close()
    console.log(`${signal}: drained=${report.drained} unflushed=${report.unflushed}`)
    process.exitCode = report.drained ? 0 : 1
  })()
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on port ${server.address().port}`)
})
