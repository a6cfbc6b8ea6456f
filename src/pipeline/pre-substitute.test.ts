import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preSubstitute, SubstitutionError } from './pre-substitute.ts';

const vars = { DRONE_COMMIT_SHA: '0123456789abcdef', DRONE_TAG: 'v1.2.3', DRONE_BRANCH: 'feature/x-y', EMPTY: '', NOTE: 'a\nb' };
const sub = (text: string) => preSubstitute(text, vars);

test('the string operations Drone and Woodpecker expand before reading a file', () => {
  assert.equal(sub('tags: ${DRONE_COMMIT_SHA:0:8}'), 'tags: 01234567');
  assert.equal(sub('${DRONE_COMMIT_SHA:10}|${DRONE_COMMIT_SHA:-4}'), 'abcdef|cdef');
  assert.equal(sub('${DRONE_TAG##v} ${DRONE_TAG#v1} ${DRONE_TAG%.*} ${DRONE_TAG%%.*}'), '1.2.3 .2.3 v1.2 v1');
  assert.equal(sub('${DRONE_BRANCH/\\//-} ${DRONE_BRANCH//-/_} ${DRONE_BRANCH/#feature/f} ${DRONE_BRANCH/%y/z}'), 'feature-x-y feature/x_y f/x-y feature/x-z');
  assert.equal(sub('${DRONE_TAG^^} ${DRONE_BRANCH^} ${DRONE_TAG,,}'), 'V1.2.3 Feature/x-y v1.2.3');
  assert.equal(sub('${UNSET=dflt} ${EMPTY=dflt} ${EMPTY:=dflt} ${UNSET:-d2} ${DRONE_TAG:+yes} ${UNSET+no}'), 'dflt  dflt d2 yes ');
  assert.equal(sub('${UNKNOWN} stays empty, $HOME is the shell\'s, $${HOME} is literal'), ' stays empty, $HOME is the shell\'s, ${HOME} is literal');
  assert.equal(sub('  # ${DRONE_TAG:bad} in a comment is left alone'), '  # ${DRONE_TAG:bad} in a comment is left alone');
  assert.equal(sub('note: ${NOTE}'), 'note: "a\\nb"', 'several lines are quoted so the YAML stays whole');
});

test('what cannot be expanded is refused at its line and column, saying how to leave it to the shell', () => {
  const err = (text: string) => {
    try {
      sub(text);
    } catch (e) {
      assert.ok(e instanceof SubstitutionError);
      return `${e.line}:${e.column}: ${e.message}`;
    }
    return assert.fail('expanded');
  };
  assert.match(err('a: 1\nb: ${DRONE_TAG@Q}'), /^2:4: .*"@Q" is not an operation.*write \$\$\{DRONE_TAG@Q\}/);
  assert.match(err('c: ${DRONE_TAG'), /^1:4: \$\{ is not closed/);
  assert.match(err('c: ${1abc}'), /does not start with a variable name/);
});

test('a Drone or Woodpecker file is read after its ${...} are expanded from the run, -e values among them', async () => {
  const { compileText } = await import('./load.ts');
  const opts = { defaultImage: 'busybox:latest', branch: 'release/2', event: 'push', commit: 'f'.repeat(40), env: { CHANNEL: 'ops' } } as const;
  const drone = 'kind: pipeline\nname: p\nsteps:\n  - name: publish\n    image: plugins/docker\n    settings:\n      tags: ["${DRONE_COMMIT_SHA:0:8}", "${DRONE_BRANCH/\\//-}"]\n      channel: ${CHANNEL}\n  - name: shell\n    image: busybox\n    commands:\n      - echo $${HOME} $HOME\n';
  const [plan] = compileText({ file: '.drone.yml', text: drone }, opts);
  assert.equal(plan!.steps[0]!.environment.PLUGIN_TAGS, 'ffffffff,release-2');
  assert.equal(plan!.steps[0]!.environment.PLUGIN_CHANNEL, 'ops');
  assert.deepEqual(plan!.steps[1]!.commands, ['echo ${HOME} $HOME']);
  const wp = 'steps:\n  - name: tag\n    image: busybox\n    commands:\n      - echo ${CI_COMMIT_SHA:0:4}-${CI_COMMIT_BRANCH##*/}\n';
  assert.deepEqual(compileText({ file: '.woodpecker.yml', text: wp }, opts)[0]!.steps[0]!.commands, ['echo ffff-2']);
  assert.throws(() => compileText({ file: '.woodpecker.yml', text: 'steps:\n  - name: a\n    image: busybox\n    commands:\n      - echo ${X@Q}\n' }, opts), /\.woodpecker\.yml:5:\d+: \$\{X@Q\}: "@Q" is not an operation/);
  // GitLab expands its own variables, its own way: untouched here.
  const gl = compileText({ file: '.gitlab-ci.yml', text: 'job:\n  script:\n    - echo ${CI_COMMIT_SHA:0:8}\n' }, opts)[0]!;
  assert.ok(gl.steps[0]!.commands!.some((c) => c.includes('${CI_COMMIT_SHA:0:8}')));
});
