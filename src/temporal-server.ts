// Kept only for src/cli.ts's `dev` command until it imports from ./dev/stack; delete with that change.
export { startDevServer } from './dev/dev-server';
