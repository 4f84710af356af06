// The house's walls, as lint enforces them (eslint.config.mjs): the workflow sandbox imports only the shared domain
// (other modules as types), the domain imports only itself, providers and the simulator never import workflows,
// CLI commands never import the CLI's entry, and the shared workflow bundle keeps no module-level variable.
// Each rule is shown refusing a crossing and letting the legal import through. No server: seconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });

async function crossings(filePath: string, code: string): Promise<string[]> {
  const results = await eslint.lintText(code, { filePath });
  return results.flatMap((r) => r.messages).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

const cases: { file: string; code: string; refused: boolean; why: string }[] = [
  { file: 'workflows/solve.ts', code: "import { loadConfig } from '../src/config';\nvoid loadConfig;\n", refused: true, why: 'workflow → src module (value)' },
  { file: 'workflows/solve.ts', code: "import { createActivities } from '../activities';\nvoid createActivities;\n", refused: true, why: 'workflow → activities (value)' },
  { file: 'workflows/solve.ts', code: "import type { Config } from '../src/config';\nexport type C = Config;\n", refused: false, why: 'workflow → src module (type only)' },
  { file: 'workflows/solve.ts', code: "import { DEFAULT_SOLVE_POLICY } from '../src/domain/policies';\nvoid DEFAULT_SOLVE_POLICY;\n", refused: false, why: 'workflow → domain' },
  { file: 'workflows/solve.ts', code: "import { readFile } from 'node:fs/promises';\nvoid readFile;\n", refused: true, why: 'workflow → Node built-in' },
  { file: 'src/domain/types.ts', code: "import { WORKFLOW_TYPES } from '../../workflows/messages';\nvoid WORKFLOW_TYPES;\n", refused: true, why: 'domain → workflows' },
  { file: 'src/domain/types.ts', code: "import { z } from 'zod';\nvoid z;\n", refused: true, why: 'domain → a library' },
  { file: 'src/domain/types.ts', code: "import { WORKFLOW_TYPES } from './names';\nvoid WORKFLOW_TYPES;\n", refused: false, why: 'domain → domain' },
  { file: 'src/providers/errors.ts', code: "import type { SolveOutcome } from '../../workflows/messages';\nexport type O = SolveOutcome;\n", refused: true, why: 'provider → workflows (even a type)' },
  { file: 'src/simulator/engine.ts', code: "import { solveCaptchaWorkflow } from '../../workflows/solve';\nvoid solveCaptchaWorkflow;\n", refused: true, why: 'simulator → workflows' },
  { file: 'src/providers/errors.ts', code: "import type { FailureClass } from '../domain/types';\nexport type F = FailureClass;\n", refused: false, why: 'provider → domain' },
  { file: 'workflows/solve.ts', code: 'export let solves = 0;\n', refused: true, why: 'a module-level let in the shared workflow bundle' },
  { file: 'src/domain/budget.ts', code: 'var spent = 0;\nexport const f = () => spent;\n', refused: true, why: 'a module-level var in the shared domain' },
  { file: 'workflows/solve.ts', code: 'export function f(): number {\n  let n = 0;\n  n++;\n  return n;\n}\n', refused: false, why: 'a let inside a function' },
  { file: 'src/cli/commands/dlq.ts', code: "import { exitCodeOf } from '../main';\nvoid exitCodeOf;\n", refused: true, why: 'CLI command → the CLI entry' },
  { file: 'src/cli/commands/dlq.ts', code: "import { sessionOf } from '../session';\nvoid sessionOf;\n", refused: false, why: 'CLI command → the session' },
];

for (const c of cases) {
  test(`lint ${c.refused ? 'refuses' : 'allows'} ${c.why}`, async () => {
    const found = await crossings(c.file, c.code);
    if (c.refused) assert.ok(found.length > 0, `expected a refusal in ${c.file}`);
    else assert.deepEqual(found, []);
  });
}
