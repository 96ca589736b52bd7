#!/usr/bin/env node
// The `writebehind` command. In a development checkout (the TypeScript source is there) it runs
// the source through tsx, so a stale build never shadows it; an installed package runs dist/.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const source = join(root, 'src', 'cli', 'main.ts')
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(pathToFileURL(source).href)
} else {
  await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href)
}
