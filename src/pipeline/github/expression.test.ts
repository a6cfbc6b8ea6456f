import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { ExpressionError, evaluateIf, interpolate, parseExpression, toText, type ExpressionScope, type Value } from './expression.ts';

// The expected results are GitHub's: from "Evaluate expressions in workflows and actions"
// (docs.github.com), and where it is silent, from GitHub's evaluator (actions/runner,
// DTExpressions2), whose behaviour the docs describe (coercion table, object filters, G15 numbers).

// The two collections of the docs' "Object filters" section, as contexts.
const fruits = [
  { name: 'apple', quantity: 1 },
  { name: 'orange', quantity: 2 },
  { name: 'pear', quantity: 1 },
];
const vegetables = {
  scallions: { colors: ['green', 'white', 'red'], ediblePortions: ['roots', 'stalks'] },
  beets: { colors: ['purple', 'red', 'gold', 'white', 'pink'], ediblePortions: ['roots', 'stems', 'leaves'] },
  artichokes: { colors: ['green', 'purple', 'red', 'black'], ediblePortions: ['hearts', 'stems', 'leaves'] },
};

const scope: ExpressionScope = {
  contexts: {
    github: {
      ref: 'refs/heads/main',
      event_name: 'push',
      repository: 'team/app',
      event: {
        pull_request: null,
        commits: [
          { message: 'fix: a', author: { name: 'Mona' } },
          { message: 'docs', author: { name: 'Octo' } },
        ],
        issue: { labels: [{ name: 'bug' }, { name: 'help wanted' }] },
        'head-commit': { id: 'abc123' },
      },
    },
    matrix: { os: 'ubuntu-latest', node: 20, Experimental: false },
    env: { CI: 'true', EMPTY: '', CONTINUE: 'true', TIME: '3' },
    needs: { build: { result: 'success', outputs: { version: '1.2.3', matrix: '{"include":[{"project":"foo","config":"Debug"}]}' } } },
    steps: {},
    fruits,
    vegetables,
  },
  hashFiles: (patterns) => `hash:${patterns.join('|')}`,
};
const value = (text: string, s: ExpressionScope = scope) => parseExpression(text)(s);

/** [expression, GitHub's result]. NaN is compared as NaN (deepStrictEqual uses Object.is). */
const TABLE: [string, Value][] = [
  // Literals (the docs' "Example of literals", and NaN/Infinity, which GitHub's lexer knows).
  ['null', null],
  ['true', true],
  ['false', false],
  ['711', 711],
  ['-9.2', -9.2],
  ['0xff', 255],
  ['-2.99e-2', -0.0299],
  ['1e3', 1000],
  ['1E3', 1000],
  ['.5', 0.5],
  ['+7', 7],
  ["'It''s open source!'", "It's open source!"],
  ["''", ''],
  ["''''", "'"],
  ["'a''''b'", "a''b"],
  ["'  spaced  '", '  spaced  '],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],

  // Falsy: false, 0, -0, '', null (and NaN); everything else, arrays and objects too, truthy.
  ['!null', true],
  ['!0', true],
  ['!-0', true],
  ["!''", true],
  ['!false', true],
  ['!NaN', true],
  ["!'0'", false],
  ["!'false'", false],
  ["!fromJSON('[]')", false],
  ["!fromJSON('{}')", false],
  ['!1', false],
  ["!!'x'", true],

  // == and !=: mismatched types compared as numbers, strings ignoring case.
  ['1 == 1', true],
  ['1 == 1.0', true],
  ['1 != 2', true],
  ["'abc' == 'ABC'", true],
  ["'abc' != 'ABC'", false],
  ['null == null', true],
  ['null == 0', true],
  ['null == false', true],
  ["null == ''", true],
  ["null == 'null'", false],
  ['true == 1', true],
  ["true == 'true'", false],
  ['false == 0', true],
  ["false == ''", true],
  ["'' == 0", true],
  ["' ' == 0", true],
  ["'1' == 1", true],
  ["'0x10' == 16", true],
  ["'1e2' == 100", true],
  ["' 42 ' == 42", true],
  ["'abc' == 0", false],
  ['NaN == NaN', false],
  ['NaN != NaN', true],
  ['Infinity == Infinity', true],
  ["'Infinity' == Infinity", true],
  ["fromJSON('[]') == fromJSON('[]')", false],
  ["fromJSON('{}') == fromJSON('{}')", false],
  ['github.event == github.event', true],
  ['github.event.commits == github.event.commits', true],
  ["fromJSON('[1]') == 1", false],
  ["fromJSON('[]') == 0", false],
  ["null == fromJSON('{}')", false],

  // < <= > >=: NaN makes them false; strings ignore case (compared upper-cased, ordinally).
  ['1 < 2', true],
  ['2 <= 2', true],
  ['3 > 2', true],
  ['2 >= 3', false],
  ["'a' < 'B'", true],
  ["'B' < 'a'", false],
  ["'abc' < 'abd'", true],
  ["'_' < 'a'", false],
  ["'10' > 9", true],
  ["'10' > '9'", false],
  ['null < 1', true],
  ['false < true', true],
  ['true > false', true],
  ['NaN < 1', false],
  ['NaN > 1', false],
  ['NaN <= NaN', false],
  ['NaN >= 1', false],
  ["'abc' < 1", false],
  ["'abc' >= 1", false],
  ["fromJSON('[]') < 1", false],
  ['github.event <= github.event', true],
  ['Infinity > 1e308', true],
  ['-Infinity < -1e308', true],
  ['1 < 2 < 3', true],
  ['3 > 2 > 1', false],

  // Precedence: ! then < <= > >= then == != then && then ||.
  ['!true == false', true],
  ['!(1 == 2)', true],
  ['!1 == 2', false],
  ['1 < 2 == true', true],
  ['2 == 2 > 1', false],
  ['true || false && false', true],
  ['false && true || true', true],
  ['(true || false) && false', false],
  ["false || 1 == 1 && 'yes'", 'yes'],
  ["!false && 'ok'", 'ok'],

  // && and || answer an operand.
  ["'a' && 'b'", 'b'],
  ["'' && 'b'", ''],
  ["0 && 'b'", 0],
  ["null && 'b'", null],
  ["null || 'default'", 'default'],
  ["'x' || 'default'", 'x'],
  ["'' || 0", 0],
  ["0 || ''", ''],
  ['false || null', null],
  ['1 && 2 && 3', 3],
  ['1 && 0 && 3', 0],
  ["null || false || 'c'", 'c'],
  ["github.event.pull_request && 'pr' || 'push'", 'push'],
  ["needs.build.outputs.version || 'none'", '1.2.3'],
  ['matrix.missing || matrix.node', 20],

  // Contexts and property dereference: names ignore case, missing is null.
  ['github.ref', 'refs/heads/main'],
  ['GITHUB.REF', 'refs/heads/main'],
  ["github['ref']", 'refs/heads/main'],
  ["github['REF']", 'refs/heads/main'],
  ["github['event_name']", 'push'],
  ["github.event['pull_request']", null],
  ['github.nothing', null],
  ['github.nothing.deeper', null],
  ['github.ref.length', null],
  ['(github).ref', 'refs/heads/main'],
  ['github.event.commits[0].message', 'fix: a'],
  ['github.event.commits[1].author.name', 'Octo'],
  ['github.event.commits[2]', null],
  ["github.event.commits['1'].message", 'docs'],
  ['github.event.commits[1.9].message', 'docs'],
  ['github.event.commits[-1]', null],
  ['github.event.commits.message', null],
  ["github.event.commits[0]['MESSAGE']", 'fix: a'],
  ['github.event.head-commit.id', 'abc123'],
  ["github['event']['commits'][0]['author']['name']", 'Mona'],
  ['matrix.node', 20],
  ['matrix.experimental', false],
  [`fromJSON('{"a":{"b":1}}').a.b`, 1],
  ["fromJSON('[10,20]')[1]", 20],
  [`fromJSON('{"1":"one"}')[1]`, 'one'],
  [`fromJSON('{"true":"yes"}')[true]`, 'yes'],
  [`fromJSON('{"null":1}').null`, 1],
  [`fromJSON('{"true":2}').true`, 2],

  // Object filters.
  ['fruits.*.name', ['apple', 'orange', 'pear']],
  ['fruits.*.quantity', [1, 2, 1]],
  ['fruits[*].name', ['apple', 'orange', 'pear']],
  ['vegetables.*.ediblePortions', [['roots', 'stalks'], ['roots', 'stems', 'leaves'], ['hearts', 'stems', 'leaves']]],
  ['vegetables.*.ediblePortions.*', ['roots', 'stalks', 'roots', 'stems', 'leaves', 'hearts', 'stems', 'leaves']],
  ['github.event.commits.*.message', ['fix: a', 'docs']],
  ['github.event.commits.*.author.name', ['Mona', 'Octo']],
  ['github.event.issue.labels.*.name', ['bug', 'help wanted']],
  [`fromJSON('[{"a":1},{"a":2}]').*.a`, [1, 2]],
  [`fromJSON('[{"a":1},{"b":2}]').*.a`, [1]],
  ["fromJSON('[[1,2],[3,4]]').*[0]", [1, 3]],
  [`fromJSON('[1,"x",null]').*.a`, []],
  [`fromJSON('{"a":1,"b":2}').*`, [1, 2]],
  ['github.ref.*', []],
  ['github.nothing.*.x', []],

  // contains.
  ["contains('Hello world', 'llo')", true],
  ["contains('Hello world', 'LLO')", true],
  ["contains('Hello world', 'xyz')", false],
  ["contains('abc', '')", true],
  ["contains(github.event.issue.labels.*.name, 'bug')", true],
  ["contains(github.event.issue.labels.*.name, 'BUG')", true],
  [`contains(fromJSON('["push", "pull_request"]'), github.event_name)`, true],
  [`contains(fromJSON('["push", "pull_request"]'), 'release')`, false],
  ["contains(fromJSON('[1, 2, 3]'), '2')", true],
  ["contains(fromJSON('[]'), '')", false],
  ['contains(123, 2)', true],
  ["contains(true, 'ru')", true],
  ["contains(null, '')", true],
  [`contains(fromJSON('{"a":1}'), 'a')`, false],
  ["contains('abc', fromJSON('[]'))", false],

  // startsWith and endsWith.
  ["startsWith('Hello world', 'He')", true],
  ["startsWith('Hello world', 'he')", true],
  ["startsWith('Hello world', 'world')", false],
  ["endsWith('Hello world', 'ld')", true],
  ["endsWith('Hello world', 'LD')", true],
  ["endsWith(github.repository, '/APP')", true],
  ["startsWith(github.ref, 'refs/tags/')", false],
  ['startsWith(12345, 12)', true],
  ["endsWith(true, 'UE')", true],
  [`startsWith(fromJSON('["a"]'), 'a')`, false],
  ["startsWith(null, '')", true],

  // format, and numbers as GitHub prints them (G15: 15 digits, exponent from 1E+15 and below 1E-05).
  ["format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", 'Hello Mona the Octocat'],
  ["format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", '{Hello Mona the Octocat!}'],
  ["format('{0}{0}', 'ab')", 'abab'],
  ["format('{1}-{0}', 'a', 'b')", 'b-a'],
  ["format('{{0}}', 'x')", '{0}'],
  ["format('plain')", 'plain'],
  ["format('{0}', null)", ''],
  ["format('{0}', true)", 'true'],
  ["format('{0}', 0.5)", '0.5'],
  ["format('{0}', -0.5)", '-0.5'],
  ["format('{0}', 1e21)", '1E+21'],
  ["format('{0}', 1e15)", '1E+15'],
  ["format('{0}', 100000000000000)", '100000000000000'],
  ["format('{0}', 123456789012345678)", '1.23456789012346E+17'],
  ["format('{0}', 0.333333333333333333)", '0.333333333333333'],
  ["format('{0}', 0.0001)", '0.0001'],
  ["format('{0}', 0.00001)", '1E-05'],
  ["format('{0}', 0xff)", '255'],
  ["format('{0}', NaN)", 'NaN'],
  ["format('{0}', -Infinity)", '-Infinity'],
  ["format('{0}', fromJSON('[1]'))", 'Array'],
  ["format('{0}', github.event)", 'Object'],
  ["format('{0} {1}', matrix.os, matrix.node)", 'ubuntu-latest 20'],

  // join.
  ["join(github.event.issue.labels.*.name, ', ')", 'bug, help wanted'],
  [`join(fromJSON('["a","b","c"]'))`, 'a,b,c'],
  [`join(fromJSON('["a","b"]'), '')`, 'ab'],
  ["join('abc')", 'abc'],
  ["join('abc', '-')", 'abc'],
  ["join(fromJSON('[]'), '-')", ''],
  [`join(fromJSON('[1, true, null, "x"]'), '|')`, '1|true||x'],
  [`join(fromJSON('[[1],{"a":1}]'))`, 'Array,Object'],
  [`join(fromJSON('{"a":1}'))`, ''],
  ['join(12)', '12'],
  ['join(null)', ''],
  [`join(fromJSON('["a","b"]'), fromJSON('[]'))`, 'a,b'],

  // toJSON: pretty, two-space indents.
  ['toJSON(matrix)', '{\n  "os": "ubuntu-latest",\n  "node": 20,\n  "Experimental": false\n}'],
  [`toJSON(fromJSON('[1, [], {}, "x"]'))`, '[\n  1,\n  [],\n  {},\n  "x"\n]'],
  [`toJSON(fromJSON('{"a":{"b":[1,2]}}'))`, '{\n  "a": {\n    "b": [\n      1,\n      2\n    ]\n  }\n}'],
  ["toJSON(fruits.*.name)", '[\n  "apple",\n  "orange",\n  "pear"\n]'],
  [`toJSON('a"b')`, '"a\\"b"'],
  ['toJSON(null)', 'null'],
  ['toJSON(true)', 'true'],
  ['toJSON(1.5)', '1.5'],

  // fromJSON, as the docs use it.
  [`fromJSON('{"n": 3}').n`, 3],
  ['fromJSON(env.CONTINUE)', true],
  ['fromJSON(env.TIME)', 3],
  ["fromJSON('null')", null],
  [`fromJSON('"text"')`, 'text'],
  ["fromJSON('[1,2]')", [1, 2]],
  ['fromJSON(needs.build.outputs.matrix).include[0].project', 'foo'],
  ["fromJSON(' 1 ') == 1", true],

  // case: the value of the first true condition, else the default.
  ["case(github.ref == 'refs/heads/main', 'production', 'development')", 'production'],
  ["case(false, 'a', true, 'b', 'c')", 'b'],
  ["case(false, 'a', false, 'b', 'c')", 'c'],
  ["case(true, fromJSON('[1]'), 'x')", [1]],

  // Status functions (nothing failed), hashFiles through the scope, and names ignoring case.
  ['success()', true],
  ['always()', true],
  ['cancelled()', false],
  ['failure()', false],
  ['SUCCESS()', true],
  ["CONTAINS('abc', 'B')", true],
  ['tojson(1)', '1'],
  ["FromJson('[]')", []],
  ["hashFiles('**/package-lock.json', '!x')", 'hash:**/package-lock.json|!x'],

  // Whitespace, including new lines, is free between tokens.
  ["  github.ref  ==  'refs/heads/main'  ", true],
  ["github.ref ==\n  'refs/heads/main'", true],
  ["contains (github.ref, 'main')", true],
];

test(`${TABLE.length} expressions evaluate to GitHub's documented results`, () => {
  assert.ok(TABLE.length >= 120);
  // Every row is evaluated before the verdict, so that a failure lists all the rows that differ.
  const differ = TABLE.flatMap(([expression, expected]) => {
    const got = value(expression);
    return isDeepStrictEqual(got, expected) ? [] : [{ expression, got, expected }];
  });
  assert.deepEqual(differ, []);
});

/** [template, the text GitHub writes]: `${{ }}` in a string, values as toText gives them. */
const TEXT: [string, string][] = [
  ['node-${{ matrix.node }} on ${{ matrix.os }}', 'node-20 on ubuntu-latest'],
  ['[${{ null }}]', '[]'],
  ['a${{ true }}b', 'atrueb'],
  ['${{ 1e21 }}', '1E+21'],
  ['${{ 0.1 }}', '0.1'],
  ['${{ -2.99e-2 }}', '-0.0299'],
  ['${{ NaN }} ${{ Infinity }}', 'NaN Infinity'],
  ["${{ format('}}') }}", '}'],
  ["${{ 'it''s' }}", "it's"],
  ["${{ fromJSON('[1,2]') }}", '[\n  1,\n  2\n]'],
  ['${{ github.event.issue.labels[0] }}', '{\n  "name": "bug"\n}'],
  ['no expressions', 'no expressions'],
];

test('${{ }} in strings: each part as toText writes its value', () => {
  for (const [template, expected] of TEXT) assert.equal(interpolate(template, scope), expected, template);
  const values: [Value, string][] = [
    [null, ''],
    [true, 'true'],
    [false, 'false'],
    [0, '0'],
    [-0, '0'],
    [1.5, '1.5'],
    [1e-7, '1E-07'],
    [2 ** 53, '9.00719925474099E+15'],
    ['x', 'x'],
    [[], '[]'],
    [{}, '{}'],
    [{ a: [1] }, '{\n  "a": [\n    1\n  ]\n}'],
  ];
  for (const [v, text] of values) assert.equal(toText(v), text, JSON.stringify(v));
});

test('if: implies success() unless a status function is called', () => {
  const failed = { ...scope, status: { failed: true, cancelled: false } };
  const cancelled = { ...scope, status: { failed: false, cancelled: true } };
  assert.equal(evaluateIf("github.event_name == 'push'", scope), true);
  assert.equal(evaluateIf("github.event_name == 'push'", failed), false);
  assert.equal(evaluateIf('${{ always() }}', failed), true);
  assert.equal(evaluateIf('failure()', failed), true);
  assert.equal(evaluateIf("${{ failure() && github.ref == 'refs/heads/main' }}", failed), true);
  assert.equal(evaluateIf('${{ !cancelled() }}', failed), true);
  assert.equal(evaluateIf('${{ !cancelled() }}', cancelled), false);
  assert.equal(evaluateIf("contains('failure()', 'f')", failed), false, 'a status function named inside a string is not a call');
  assert.equal(evaluateIf('', scope), true, 'an empty if: is success()');
  assert.equal(evaluateIf('', failed), false);
});

/** [expression, what the message says]: mistakes found when the expression is read, with their column. */
const PARSE_ERRORS: [string, RegExp][] = [
  ['github.ref ==', /at column 12: it ends after "==", where a value was expected/],
  ['contains(', /at column 9: contains\( is not closed: "\)" is missing at the end/],
  ["contains('a',", /at column 13: it ends after ",", where another argument was expected/],
  ['foo()', /at column 1: there is no function foo\(\); the functions are contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles, case, success, always, cancelled, failure/],
  ["startwith(github.ref, 'v')", /there is no function startwith\(\) \(did you mean "startsWith"\?\)/],
  ['toJsn(matrix)', /did you mean "toJSON"/],
  ['sucess()', /did you mean "success"/],
  ['github.ref == "main"', /at column 15: "main" is not a value: strings are written in single quotes/],
  ["github.ref = 'main'", /at column 12: "=" is not an operator: equality is written ==/],
  ['true & false', /"&" is not an operator: "and" is written &&/],
  ['true | false', /"\|" is not an operator: "or" is written \|\|/],
  ["github.ref == 'main", /at column 15: the string that starts here is not closed/],
  ['1.2.3', /"1.2.3" is not a number/],
  ['0x', /"0x" is not a number/],
  ['12abc == 1', /at column 1: "12abc" is not a number/],
  ['-x', /"-x" is not a number/],
  ['$x', /"\$x" is not a name, a number or an operator/],
  ["github.ref 'x'", /at column 12: "'x'" cannot follow "ref": an operator such as == or && was expected/],
  ['(1 == 1', /at column 1: "\(" is not closed: "\)" is missing at the end/],
  ['1 == 1)', /at column 7: "\)" closes nothing/],
  ["github['ref'", /at column 7: "\[" is not closed/],
  ["contains('a' 'b')", /at column 14: "'b'" cannot follow "'a'": "," and another argument, or "\)" to close contains\(, was expected/],
  ["contains(, 'a')", /a value was expected after "\(", not ","/],
  ["contains('a')", /contains\(\) takes 2 arguments, not 1/],
  ["contains('a', 'b', 'c')", /contains\(\) takes 2 arguments, not 3/],
  ['success(1)', /success\(\) takes no arguments, not 1/],
  ['join()', /join\(\) takes 1 or 2 arguments, not 0/],
  ['format()', /format\(\) takes at least 1 argument, not 0/],
  ["case(true, 'a')", /case\(\) takes at least 3 arguments, not 2/],
  ["case(true, 'a', false, 'b')", /case\(\) takes an odd number of arguments/],
  ['', /the expression is empty/],
  ['   ', /the expression is empty/],
  ['github.', /at column 7: a property name or \* was expected after "."$/],
  ['github.[0]', /a property name or \* was expected after ".", not "\["/],
  ["'abc'.length", /"\." cannot follow the literal 'abc'/],
  ['1[0]', /"\[" cannot follow the literal 1/],
  ['a, b', /"," separates the arguments of a function call/],
  ['!', /it ends after "!", where a value was expected/],
  ['github[', /it ends after "\[", where an index was expected/],
  ['1 -1', /"-1" cannot follow "1"/],
  ['== 1', /at column 1: "==" cannot start an expression/],
  ['true()', /"\(" cannot follow "true"/],
  ["github.ref ==\n  == 'x'", /at line 2, column 3: a value was expected after "==", not "=="/],
  [`${'('.repeat(60)}1${')'.repeat(60)}`, /nests deeper than 50 levels/],
  [`'${'a'.repeat(21000)}'`, /longer than 21000 characters/],
];

test('a mistake in an expression is an ExpressionError that says what and where', () => {
  for (const [expression, said] of PARSE_ERRORS) {
    assert.throws(
      () => parseExpression(expression),
      (e: unknown) => {
        assert.ok(e instanceof ExpressionError, `${expression}: ${String(e)}`);
        assert.equal(e.code, 'NESTOR_EXPRESSION_INVALID');
        assert.match(e.message, /^The expression ".*" cannot be read/s);
        assert.match(e.message, said, expression);
        return true;
      },
    );
  }
  const err = (() => {
    try {
      parseExpression('github.ref ==');
    } catch (e) {
      return e as ExpressionError;
    }
  })();
  assert.deepEqual([err?.line, err?.column], [1, 12], 'the position is on the error for callers');
});

/** [expression, what the message says]: mistakes only evaluation can find. */
const RUN_ERRORS: [string, RegExp][] = [
  ['unknown.x', /at column 1: there is no context unknown; the contexts here are github, matrix/],
  ['githb.ref', /there is no context githb \(did you mean "github"\?\)/],
  ["format('{0}')", /format\(\): "\{0\}" refers to \{0\}, but no value follows it/],
  ["format('{0} {2}', 'a', 'b')", /refers to \{2\}, but only 2 values follow it \(\{0\} is the first\)/],
  ["format('{', 1)", /has "\{" that is neither \{N\} nor \{\{/],
  ["format('}', 1)", /has a "\}" that closes nothing/],
  ["format('{x}', 1)", /neither \{N\} nor \{\{/],
  ["format('{0:x}', 1)", /neither \{N\} nor \{\{/],
  ["format('{256}', 1)", /neither \{N\} nor \{\{/],
  ["fromJSON('not json')", /fromJSON\(\) cannot read "not json" as JSON/],
  ["fromJSON('')", /fromJSON\(\) was given an empty string/],
  ["case(1, 'a', 'b')", /case\(\): condition 1 is a number, not true or false/],
  ["case(false, 'a', 'yes', 'b', 'c')", /condition 2 is a string/],
];

test('evaluation errors name the expression, the cause and where', () => {
  for (const [expression, said] of RUN_ERRORS) {
    assert.throws(() => value(expression), (e: unknown) => e instanceof ExpressionError && said.test(e.message), expression);
  }
  assert.throws(() => value("hashFiles('x')", { contexts: {} }), /hashFiles\(\) is evaluated where the workspace is/);
  assert.throws(() => interpolate('echo ${{ github.ref', scope), /`\$\{\{` is not closed by `\}\}`/);
  assert.equal(value("false && unknown.x"), false, '&& does not evaluate what it does not need');
  assert.equal(value("case(true, 'a', unknown.x, 'b', 'c')"), 'a', 'case() stops at the first true condition');
});

test('a parsed expression is evaluated again with each scope', () => {
  const expr = parseExpression("matrix.os == 'windows-latest' || matrix.node >= 20");
  assert.equal(expr({ contexts: { matrix: { os: 'windows-latest', node: 18 } } }), true);
  assert.equal(expr({ contexts: { matrix: { os: 'ubuntu-latest', node: 18 } } }), false);
  assert.equal(expr({ contexts: { matrix: { os: 'ubuntu-latest', node: '22' } } }), true, "a matrix value written '22' compares as a number");
});
