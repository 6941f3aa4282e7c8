// Type-checks the code the documentation shows, so an example that no longer compiles fails CI:
//  - every `@example` block of the JSDoc in packages/*/src (what the API reference renders);
//  - every ```ts fence in docs/*.md and the READMEs (root, packages/*, examples/*).
//
// Each block becomes one in-memory module (nothing is written to disk) checked by one TypeScript
// program against the packages' sources, through the `paths` of tsconfig.json (no build needed),
// with the repository's strict options except the unused-name checks (an example may compute a value
// only to show it).
//
// Markdown snippets are complete programs: they import what they use. A snippet that is deliberately
// partial is fenced ```ts nocheck and says why in its text.
//
// A JSDoc example is shown beside the export it documents, so it may be shorter:
//  - an example that shows import lines shows all it needs (it can be copied as it is);
//  - an example without import lines implies them: every name it uses and does not define is
//    imported from its own package, or else from the packages that one depends on
//    (@backfold/nn/node -> @backfold/nn -> @backfold/ops -> @backfold/tensor), or is a namespace
//    of NAMESPACES below (`T` the tensor package, `E` fp-ts's Either);
//  - either kind may use the conventional free names of PRELUDE below (`x` is some tensor, `key`
//    some key, `model` some layer, ...): the values a short example presupposes.
// Anything else it uses must be imported or defined in the example.
//
// Usage: node scripts/check-snippets.mjs [--print] (--print: print every generated module)
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const print = process.argv.includes('--print')

// The packages, their entry points and the packages each one may use (own package first).
const ENTRIES = {
  '@backfold/tensor': 'packages/tensor/src/index.ts',
  '@backfold/ops': 'packages/ops/src/index.ts',
  '@backfold/nn': 'packages/nn/src/index.ts',
  '@backfold/nn/node': 'packages/nn/src/node/index.ts',
}
const SEARCH_ORDER = {
  '@backfold/tensor': ['@backfold/tensor'],
  '@backfold/ops': ['@backfold/ops', '@backfold/tensor'],
  '@backfold/nn': ['@backfold/nn', '@backfold/ops', '@backfold/tensor'],
  '@backfold/nn/node': ['@backfold/nn/node', '@backfold/nn', '@backfold/ops', '@backfold/tensor'],
}

// Free names a JSDoc example may use without defining them, when it does not define them itself:
// the values a short example presupposes, each in its everyday meaning (`x` is some tensor, `key`
// some key, `model` some layer, `train` a data set, `vocab` a size). `T` is the tensor package
// (`import * as T from '@backfold/tensor'`) and `E` fp-ts's Either, as in the sources.
const TENSOR = "import('@backfold/tensor').Tensor"
const NN = "import('@backfold/nn')"
const names = (list, type) => Object.fromEntries(list.split(' ').map((n) => [n, type]))
const PRELUDE = {
  ...names(
    'x y w a b c g m v p images image labels logits dy cotangent embeddings tokenIds weights bias ' +
      'activations upstream trace logProbs columns col row src kernels batchX batchY loss',
    TENSOR,
  ),
  ...names('vocab dim batch classes features count epoch', 'number'),
  ...names('key ctxKey', "import('@backfold/tensor').Key"),
  // The parameters, state and optimizer state of whichever model the example shows: any type fits.
  ...names('params grads state optState', 'any'),
  ...names('train test dataset digits', `${NN}.Dataset`),
  model: `${NN}.Layer`,
  optimizer: `${NN}.GradientTransformation<unknown>`,
  options: `${NN}.FitOptions<unknown, unknown, unknown>`,
  result: `${NN}.FitResult<unknown, unknown, unknown>`,
  config: `${NN}.LayerConfig`,
  contents: `${NN}.CheckpointContents`,
  initialised: '{ readonly params: unknown }',
  bytes: 'Uint8Array',
  text: 'string',
}
const NAMESPACES = { T: '@backfold/tensor', O: '@backfold/ops', E: 'fp-ts/Either' }

/** The package a source file belongs to, e.g. packages/nn/src/node/files.ts -> @backfold/nn/node. */
const packageOf = (file) => {
  const rel = relative(root, file).split('\\').join('/')
  const m = /^packages\/([^/]+)\/src\/(node\/)?/.exec(rel)
  if (m === null) throw new Error(`check-snippets: ${rel} is in no package`)
  return m[2] !== undefined && m[1] === 'nn' ? '@backfold/nn/node' : `@backfold/${m[1]}`
}

const walk = (dir, keep) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : walk(path, keep)
    return keep(e.name) ? [path] : []
  })

// ---------------------------------------------------------------------------------------------------
// Extraction. A block is { kind: 'example' | 'snippet', file, info (the fence's info string),
// lines: [{ n: line number in file, t: text }], pkg (an example's package) }.

/** The `@example` blocks of every JSDoc comment of a file, with the line each code line came from. */
const jsdocExamples = (file) => {
  const text = readFileSync(file, 'utf8')
  const blocks = []
  for (const m of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const startLine = text.slice(0, m.index).split('\n').length // 1-based line of `/**`
    const lines = m[0].split('\n').map((l, i) => ({
      n: startLine + i,
      // Strip `/**`, `*/` and the leading ` * ` of a comment line; keep the code's own indentation.
      t: l
        .replace(/^\s*\/\*\*\s?/, '')
        .replace(/\s*\*\/$/, '')
        .replace(/^\s*\* ?/, ''),
    }))
    // An @internal comment documents something the packages do not export: not in the reference.
    if (lines.some((l) => /^\s*@internal\b/.test(l.t))) continue
    for (let i = 0; i < lines.length; i++) {
      const tag = /^\s*@example\b(.*)$/.exec(lines[i].t)
      if (tag === null) continue
      const body = []
      if (tag[1].trim() !== '') body.push({ n: lines[i].n, t: tag[1].trim() })
      let j = i + 1
      for (; j < lines.length && !/^\s*@\w/.test(lines[j].t); j++) body.push(lines[j])
      i = j - 1
      // TypeDoc renders an example without a fence as TypeScript; with fences, only the fences.
      const fenced = fences(body)
      const parts = fenced.length > 0 ? fenced : [{ info: 'ts', lines: body }]
      for (const part of parts) {
        const code = part.lines.filter((l, k, all) => l.t.trim() !== '' || (k > 0 && k < all.length - 1))
        if (code.length === 0) continue
        blocks.push({ kind: 'example', file, info: part.info, lines: code, pkg: packageOf(file) })
      }
    }
  }
  return blocks
}

/** The fenced code blocks of a list of numbered lines: { info, lines } with the fence's info string. */
const fences = (lines) => {
  const out = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+|~~~+)\s*([^`]*)$/.exec(lines[i].t)
    if (open === null) continue
    const [, indent, marker, info] = open
    const body = []
    let j = i + 1
    for (; j < lines.length && !lines[j].t.trimStart().startsWith(marker); j++) {
      // Inside an indented fence (a list item), the indentation is not the code's.
      body.push({
        n: lines[j].n,
        t: lines[j].t.startsWith(indent) ? lines[j].t.slice(indent.length) : lines[j].t,
      })
    }
    out.push({ info: info.trim(), lines: body })
    i = j
  }
  return out
}

const markdownSnippets = (file) =>
  fences(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((t, i) => ({ n: i + 1, t })),
  ).map((f) => ({ kind: 'snippet', file, info: f.info, lines: f.lines }))

const isTs = (info) => /^(ts|typescript)\b/.test(info)
const isNocheck = (info) => /\bnocheck\b/.test(info)

const sourceFiles = ['tensor', 'ops', 'nn'].flatMap((p) =>
  walk(join(root, 'packages', p, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.d.ts')),
)
const markdownFiles = [
  join(root, 'README.md'),
  ...walk(join(root, 'docs'), (n) => n.endsWith('.md')).filter((f) => dirname(f) === join(root, 'docs')),
  ...['packages', 'examples'].flatMap((d) =>
    readdirSync(join(root, d), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(root, d, e.name, 'README.md'))
      .filter((f) => existsSync(f)),
  ),
]

const allBlocks = [...sourceFiles.flatMap(jsdocExamples), ...markdownFiles.flatMap(markdownSnippets)]
const tsBlocks = allBlocks.filter((b) => isTs(b.info))
const nocheck = tsBlocks.filter((b) => isNocheck(b.info))
const blocks = tsBlocks.filter((b) => !isNocheck(b.info))
const where = (block, line) => `${relative(root, block.file)}:${line}`

// ---------------------------------------------------------------------------------------------------
// The TypeScript program.

const config = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    },
  },
)
const options = {
  ...config.options,
  noEmit: true,
  noUnusedLocals: false,
  noUnusedParameters: false,
  // Every block is a module of its own, even one without imports: blocks never share names.
  moduleDetection: ts.ModuleDetectionKind.Force,
}

const virtual = new Map() // absolute path -> { text, block, header }
const host = ts.createCompilerHost(options, true)
const baseGetSourceFile = host.getSourceFile.bind(host)
const parsed = new Map()
host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
  const v = virtual.get(resolve(fileName))
  if (v !== undefined) return ts.createSourceFile(fileName, v.text, languageVersion, true)
  if (!parsed.has(fileName))
    parsed.set(fileName, baseGetSourceFile(fileName, languageVersion, onError, shouldCreate))
  return parsed.get(fileName)
}
const baseFileExists = host.fileExists.bind(host)
host.fileExists = (f) => virtual.has(resolve(f)) || baseFileExists(f)
const baseReadFile = host.readFile.bind(host)
host.readFile = (f) => virtual.get(resolve(f))?.text ?? baseReadFile(f)

// Phase 1: the names each entry point exports (values, types and namespaces such as `random`).
const entryProgram = ts.createProgram(
  Object.values(ENTRIES).map((e) => join(root, e)),
  options,
  host,
)
const checker = entryProgram.getTypeChecker()
const exportsOf = Object.fromEntries(
  Object.entries(ENTRIES).map(([name, file]) => {
    const sf = entryProgram.getSourceFile(join(root, file))
    const symbol = sf === undefined ? undefined : checker.getSymbolAtLocation(sf)
    if (symbol === undefined) throw new Error(`check-snippets: cannot read the exports of ${file}`)
    return [name, new Set(checker.getExportsOfModule(symbol).map((s) => s.name))]
  }),
)

/** Identifiers a block's code refers to (not after a `.`), and the names it declares at top level. */
const namesIn = (code) => {
  const used = new Set()
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, code)
  let previous = ts.SyntaxKind.Unknown
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.Identifier && previous !== ts.SyntaxKind.DotToken)
      used.add(scanner.getTokenValue())
    if (kind !== ts.SyntaxKind.WhitespaceTrivia && kind !== ts.SyntaxKind.NewLineTrivia) previous = kind
  }
  const declared = new Set()
  const bind = (name) => {
    if (name === undefined) return
    if (ts.isIdentifier(name)) declared.add(name.text)
    else for (const e of name.elements) if (!ts.isOmittedExpression(e)) bind(e.name)
  }
  const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, false)
  for (const s of sf.statements) {
    if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) bind(d.name)
    else if (ts.isImportDeclaration(s)) {
      const clause = s.importClause
      bind(clause?.name)
      const bindings = clause?.namedBindings
      if (bindings !== undefined && ts.isNamespaceImport(bindings)) bind(bindings.name)
      else if (bindings !== undefined) for (const e of bindings.elements) bind(e.name)
    } else if (s.name !== undefined && ts.isIdentifier(s.name)) declared.add(s.name.text)
  }
  return { used, declared }
}

// Phase 2: one virtual module per block, all checked by one program that reuses phase 1's files.
blocks.forEach((block, i) => {
  const code = block.lines.map((l) => l.t).join('\n')
  const header = []
  if (block.kind === 'example') {
    const { used, declared } = namesIn(code)
    // An example that shows import lines shows all of them: it can be copied as it is.
    const importsShown = /^\s*import\s/m.test(code)
    const imports = new Map() // package -> names
    for (const name of used) {
      if (declared.has(name)) continue
      const from = importsShown ? undefined : SEARCH_ORDER[block.pkg].find((p) => exportsOf[p].has(name))
      if (from !== undefined) imports.set(from, [...(imports.get(from) ?? []), name])
      else if (name in NAMESPACES && !importsShown)
        header.push(`import * as ${name} from '${NAMESPACES[name]}'`)
      else if (name in PRELUDE) header.push(`declare let ${name}: ${PRELUDE[name]}`)
    }
    for (const [from, names] of imports) header.unshift(`import { ${names.join(', ')} } from '${from}'`)
  }
  // In the package of the block (Markdown: @backfold/nn's), so its dependencies (fp-ts, io-ts) resolve.
  const dir = block.kind === 'example' ? ENTRIES[block.pkg].split('/').slice(0, 2).join('/') : 'packages/nn'
  const name = join(
    root,
    dir,
    '__doc_blocks__',
    `${relative(root, block.file).replace(/[^\w]+/g, '_')}_${block.lines[0].n}_${i}.ts`,
  )
  virtual.set(name, { text: [...header, code].join('\n') + '\n', block, header: header.length })
})

const program = ts.createProgram([...virtual.keys()], options, host, entryProgram)
let failed = 0
for (const [name, v] of virtual) {
  const sf = program.getSourceFile(name)
  const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]
  if (print || diagnostics.length > 0) {
    const label = v.block.kind === 'example' ? '@example' : '```ts snippet'
    console.log(
      `\n${where(v.block, v.block.lines[0].n)}: ${label}${diagnostics.length > 0 ? ' does not compile' : ''}`,
    )
    if (print) console.log(v.text.replace(/^/gm, '  | '))
  }
  for (const d of diagnostics) {
    const { line } = sf.getLineAndCharacterOfPosition(d.start ?? 0)
    const original =
      line < v.header
        ? `in the generated line '${v.text.split('\n')[line]}'`
        : where(v.block, v.block.lines[line - v.header]?.n ?? '?')
    console.log(`  ${original}: TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n    ')}`)
  }
  if (diagnostics.length > 0) failed++
}

const count = (kind) => blocks.filter((b) => b.kind === kind).length
const summary =
  `${count('example')} JSDoc @example blocks, ${count('snippet')} Markdown \`\`\`ts snippets` +
  (nocheck.length > 0
    ? `; ${nocheck.length} marked nocheck, not checked: ${nocheck.map((b) => where(b, b.lines[0]?.n ?? 0)).join(', ')}`
    : '')
if (failed > 0) {
  console.error(`\ncheck-snippets: ${failed} of ${blocks.length} blocks do not compile (${summary})`)
  process.exit(1)
}
console.log(`check-snippets: all ${blocks.length} blocks type-check (${summary})`)
