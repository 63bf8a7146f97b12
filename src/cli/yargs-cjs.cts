// yargs through its CommonJS build, on purpose. Its ES-module build (what `import 'yargs'`
// resolves to, in Node and in esbuild alike) lays out --help with cliui's stand-in string
// helpers, which cut lines at the column, in the middle of words ("mir ror"); the CommonJS build
// gives cliui the real wrap-ansi and string-width and breaks between words (issue 23). yargs 18
// has one build that wraps well, but needs Node >= 20.19, above our engines floor (^20.17).
// This file compiles to yargs-cjs.cjs, which esbuild bundles like any CommonJS module (with the
// `require` condition: yargs/yargs.cjs).
// `yargs/yargs` is the factory alone: `yargs` (index.cjs) also builds the classic singleton
// instance from process.argv when it loads (a parser main.ts never uses, and the walk up from the
// working directory for a package.json that comes with it): ~3 ms of every run
// (docs/BENCHMARKS.md, no-op re-import).
import yargs = require('yargs/yargs');
export = yargs;
