/**
 * What the dashboard server shows and drives: a source gives the state a newly opened page starts
 * from, pushes events (each becomes one server-sent event, `event: <name>` with JSON data), and may
 * take actions (POST /api/<name>). The simulator and an app's own cache (mount.ts) are sources.
 */
export interface DashboardSource {
  /** The state a page starts from (sent as the first `state` event of each stream). */
  snapshot(): unknown
  /** Calls `listener` with every event until the returned function is called. */
  subscribe(listener: (event: string, data: unknown) => void): () => void
  /**
   * Runs the action `name` with the parsed JSON `body`; resolves with what to answer. Rejects with
   * an `InvalidOptionError` for a bad body (400); undefined when the source has no such action (404).
   */
  action?(name: string, body: unknown): Promise<unknown> | undefined
}
