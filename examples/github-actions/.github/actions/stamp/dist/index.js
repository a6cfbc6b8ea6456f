// What @actions/core does, without the dependency: inputs from INPUT_*, outputs and the
// summary through the files the runner names, a group and a notice as workflow commands.
const fs = require('node:fs');
const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || '').trim();
const stamp = `${input('prefix')}-${input('label')}`;
console.log('::group::Stamping');
console.log(`node ${process.version} on ${process.platform}, action at ${process.env.GITHUB_ACTION_PATH}`);
console.log('::endgroup::');
fs.appendFileSync(process.env.GITHUB_OUTPUT, `stamp=${stamp}\n`);
fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `stamped ${stamp}\n`);
console.log(`::notice::stamped ${stamp}`);
