import assert from 'node:assert/strict';
import { test } from 'node:test';
import { githubPatternMatches } from './filter-pattern.ts';

// The examples of GitHub's "Filter pattern cheat sheet".
const table: [pattern: string, matches: string[], not: string[]][] = [
  ['feature/*', ['feature/my-branch', 'feature/your-branch'], ['feature/a/b', 'features/x']],
  ['feature/**', ['feature/beta-a/my-branch', 'feature/your-branch', 'feature/mona/the/octocat'], ['main']],
  ['main', ['main'], ['mains', 'releases/main']],
  ['v2*', ['v2', 'v2.0', 'v2.9'], ['v1.0', 'x/v2']],
  ['v[12].[0-9]+.[0-9]+', ['v1.10.1', 'v2.0.0'], ['v3.0.0', 'v1.x.1', 'v1..1']],
  ['*', ['README.md', 'server.rb'], ['.github/workflows/ci.yml']],
  ['*.jsx?', ['page.js', 'page.jsx'], ['page.jsxx', 'dir/page.js']],
  ['**', ['all/the/files.md'], []],
  ['*.js', ['app.js', 'index.js'], ['src/app.js']],
  ['**.js', ['index.js', 'js/index.js', 'src/js/app.js'], ['app.ts']],
  ['docs/*', ['docs/README.md', 'docs/file.txt'], ['docs/a/b.md']],
  ['docs/**', ['docs/README.md', 'docs/mona/octocat.txt'], ['README.md']],
  ['docs/**/*.md', ['docs/README.md', 'docs/mona/hello-world.md', 'docs/a/markdown/file.md'], ['docs/a.txt']],
  ['**/docs/**', ['docs/hello.md', 'dir/docs/my-file.txt', 'space/docs/plan/space.doc'], ['documents/x']],
  ['**/README.md', ['README.md', 'js/README.md'], ['README.txt']],
  ['**/*src/**', ['a/src/app.js', 'my-src/code/js/app.js'], ['src.js']],
  ['**/*-post.md', ['my-post.md', 'path/their-post.md'], ['post.md']],
  ['**/migrate-*.sql', ['migrate-10909.sql', 'db/migrate-v1.0.sql', 'db/sept/migrate-v1.sql'], ['migrate.sql']],
  ['releases/**-alpha', ['releases/10-alpha', 'releases/a/b-alpha'], ['releases/10-beta']],
  ['+', ['+'], ['a']],
];

test('GitHub filter patterns match as GitHub documents them (?, + and * differ from shell globs)', () => {
  for (const [pattern, yes, no] of table) {
    for (const v of yes) assert.equal(githubPatternMatches(v, pattern), true, `${pattern} should match ${v}`);
    for (const v of no) assert.equal(githubPatternMatches(v, pattern), false, `${pattern} should not match ${v}`);
  }
});
