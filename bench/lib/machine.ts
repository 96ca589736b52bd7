/**
 * A description of where the numbers were measured, for the results file.
 */
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import { openPool, serverVersion } from './pg.js'
import { openRedis } from './redis.js'

export interface Machine {
  cpu: string
  cores: number
  memoryGb: number
  os: string
  node: string
  postgres: string
  redis: string
  bullmq: string
}

export async function describeMachine(): Promise<Machine> {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: await postgresVersion(),
    redis: await redisVersion(),
    bullmq: await packageVersion('bullmq'),
  }
}

async function postgresVersion(): Promise<string> {
  const pool = openPool(1)
  try {
    return await serverVersion(pool)
  } finally {
    await pool.end()
  }
}

async function redisVersion(): Promise<string> {
  const redis = openRedis()
  try {
    const info = await redis.info('server')
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
  } finally {
    redis.disconnect()
  }
}

async function packageVersion(name: string): Promise<string> {
  const text = await readFile(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}
