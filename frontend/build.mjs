// Builds the editor bundle into notes/static/notes/build/ (committed, so Python-only installs
// need no Node). The output must be byte-identical for the same inputs: CI rebuilds it and
// fails on any difference. So: no timestamps, no absolute paths, no source maps.
//
//   editor.js   ES module: the note page (src/main.js)
//   list.js     ES module: the live notes list (src/list.js)
//   editor.css  its styles (src/editor.css, imported by main.js)
//   boot.js     a tiny classic script for <head>: applies the saved layout before first paint
//   THIRD_PARTY_LICENSES.txt  the licences of the npm packages inside the bundle

import * as esbuild from 'esbuild'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const outdir = path.resolve(here, '../notes/static/notes/build')
const banner = '/* Collab Notes editor. Bundled packages and their licences: THIRD_PARTY_LICENSES.txt */'

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  sourcemap: false,
  charset: 'utf8',
  legalComments: 'none', // collected into THIRD_PARTY_LICENSES.txt instead
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  logLevel: 'warning',
  banner: { js: banner, css: banner },
}

rmSync(outdir, { recursive: true, force: true })
mkdirSync(outdir, { recursive: true })

const [app, boot] = await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: { editor: 'src/main.js', list: 'src/list.js' },
    format: 'esm',
    outdir,
  }),
  esbuild.build({
    ...common,
    entryPoints: { boot: 'src/boot.js' },
    format: 'iife',
    outdir,
  }),
])

/**
 * The npm packages (name → directories) with code in the bundles (not merely parsed).
 * @param {esbuild.Metafile[]} metafiles
 */
function bundledPackages(metafiles) {
  /** @type {Map<string, Set<string>>} */
  const dirs = new Map()
  for (const metafile of metafiles) {
    const used = Object.values(metafile.outputs)
      .flatMap((output) => Object.entries(output.inputs))
      .filter(([, info]) => info.bytesInOutput > 0)
      .map(([input]) => input)
    for (const input of used) {
      const match = /^(.*node_modules\/(@[^/]+\/[^/]+|[^/]+))\//.exec(input)
      if (!match) continue
      const [, dir, name] = match
      if (!dirs.has(name)) dirs.set(name, new Set())
      dirs.get(name).add(dir)
    }
  }
  return dirs
}

const packages = bundledPackages([app.metafile, boot.metafile])

// Two copies of yjs or @codemirror/state break the editor at runtime (instanceof checks fail);
// refuse to build rather than ship that.
const duplicated = [...packages].filter(([, dirs]) => dirs.size > 1)
if (duplicated.length) {
  const list = duplicated.map(([name, dirs]) => `${name}: ${[...dirs].join(', ')}`).join('\n')
  throw new Error(`packages bundled more than once:\n${list}`)
}

const licenceSections = [...packages]
  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  .map(([name, dirs]) => {
    const dir = path.join(here, [...dirs][0])
    const meta = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))
    const file = readdirSync(dir).sort().find((f) => /^(licen[sc]e|copying)(\.|$)/i.test(f))
    const text = file ? readFileSync(path.join(dir, file), 'utf8').trim() : `License: ${meta.license}`
    return `${name} ${meta.version} (${meta.license})\n\n${text}\n`
  })
writeFileSync(
  path.join(outdir, 'THIRD_PARTY_LICENSES.txt'),
  `Third-party packages bundled into editor.js and editor.css\n\n${licenceSections.join('\n' + '-'.repeat(72) + '\n\n')}`,
)

for (const name of ['editor.js', 'editor.css', 'boot.js']) {
  if (!existsSync(path.join(outdir, name))) throw new Error(`build did not produce ${name}`)
}
const sizes = readdirSync(outdir).sort()
  .map((name) => `${name} ${(readFileSync(path.join(outdir, name)).length / 1024).toFixed(1)} KiB`)
console.log(`built ${path.relative(process.cwd(), outdir)}: ${sizes.join(', ')}`)
