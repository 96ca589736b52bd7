// A node:test reporter (`--test-reporter=./node-reporter.mjs`) that prints one JSON line per case:
// { suite, title, status: 'passed' | 'failed' | 'skipped' }, like the JSON reports of Vitest and Jest.
// A case's events come before its describe block's, so the cases wait for the block's name.
export default async function* report(source) {
  let cases = []
  for await (const { type, data } of source) {
    if (type !== 'test:pass' && type !== 'test:fail') continue
    if (data.nesting === 1) cases.push({ title: data.name, status: data.skip !== undefined && data.skip !== false ? 'skipped' : type === 'test:pass' ? 'passed' : 'failed' })
    if (data.nesting !== 0) continue
    for (const one of cases) yield `${JSON.stringify({ suite: data.name, ...one })}\n`
    cases = []
  }
}
