import assert from 'node:assert/strict';
import { test } from 'node:test';
import { YamlSource } from './yaml-source.ts';

test('a commit prefix that looks like an exponent stays text (as Go reads it); numbers stay numbers', () => {
  const v = YamlSource.parse('f.yml', 'sha: 96e61171\nzero: 0e123456\nsigned: -1.5e3\npoint: 2.5e2\nplain: 42\nfloat: 1.5\n').value;
  assert.deepEqual(v, { sha: '96e61171', zero: '0e123456', signed: -1500, point: 250, plain: 42, float: 1.5 });
});
