// Lint configuration: typescript-eslint with type information, so that
// floating promises (a forgotten await on I/O) fail `npm test`, and the
// folder boundaries of src/ (below).
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Folder boundaries, checked with no-restricted-imports on the import text
// (relative specifiers, so one block per folder and depth):
// - Nothing outside src/cli imports src/cli/ or src/dev/ (the CLI is the top;
//   src/dev is `bmaas dev`, reached only from its command). src/dev imports
//   components like any other folder.
// - A folder imports another folder only through its index.ts (or the
//   index.ts of one of its sub-folders, such as shepherd/ssh/ or
//   shepherd/providers/mini/, which are components of their own).
// - src/lib is a set of independent leaf utilities at the bottom: any folder
//   may import a single src/lib file (so the agent bundle takes only what it
//   uses, and no index.ts collects unrelated helpers), and src/lib itself
//   imports nothing of src/ outside src/lib.
// Exempt: tests (*.test.ts, and the testing/ helper folders they share) and
// test/, bench/, scripts/, which reach into internals on purpose; generated
// code in src/proto/gen. Dynamic import() is not checked (src/ has none).
const SRC_FOLDERS = readdirSync(new URL('./src/', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

function boundaryRules(folder, depth) {
  const up = `^(\\.\\./){${depth}}`;
  const own = folder === 'cli' ? ['cli', 'lib'] : [folder, 'lib', 'cli', 'dev'];
  const patterns = [];
  if (folder === 'lib') {
    patterns.push({ regex: `${up}(?!lib/)[^./]`, message: 'src/lib is the bottom layer: it imports nothing of src/ outside src/lib.' });
  } else {
    if (folder !== 'cli') {
      const banned = folder === 'dev' ? 'cli' : '(cli|dev)';
      patterns.push({ regex: `${up}${banned}/`, message: 'Only src/cli may import src/cli/ or src/dev/: move what you need into a component or src/lib.' });
    }
    patterns.push({
      regex: `${up}(?!(${own.join('|')})/)[^./][^/]*/(?!(.+/)?index\\.ts$)`,
      message: "Import another folder through its index.ts (export what you need there); only src/lib files may be imported one by one.",
    });
  }
  return { files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`], ignores: ['**/*.test.ts', 'src/*/testing/**', 'src/proto/gen/**'], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'src/proto/gen/**', '.bmaas/**', 'dist/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // TypeScript already reports undefined names, and knows Node's globals.
      'no-undef': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...SRC_FOLDERS.flatMap((folder) => [1, 2, 3, 4].map((depth) => boundaryRules(folder, depth))),
);
