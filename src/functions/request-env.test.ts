import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestEnvironment } from './request-env.ts';

test('client headers cannot set the gateway\'s own Http_Method, Http_Path and Http_Query', () => {
  const env = requestEnvironment({
    method: 'post',
    path: '/orders',
    query: 'id=7',
    headers: { method: 'DELETE', PATH: '/etc/passwd', 'query': 'id=1 OR 1=1', 'x-method': 'kept', 'x-request-id': 'r1' },
    body: Buffer.alloc(0),
  });
  const values = (name: string) => env.filter((e) => e.startsWith(`${name}=`)).map((e) => e.slice(name.length + 1));
  assert.deepEqual(values('Http_Method'), ['POST']);
  assert.deepEqual(values('Http_Path'), ['/orders']);
  assert.deepEqual(values('Http_Query'), ['id=7']);
  assert.deepEqual(values('Http_X_Method'), ['kept']);
  assert.deepEqual(values('Http_X_Request_Id'), ['r1']);
});
