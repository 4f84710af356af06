#!/usr/bin/env node
// `npx captcha-dlq` from a clone: runs the TypeScript CLI through tsx (no build step). `tsx/cjs` compiles what the
// CLI requires; tsx's full loader (ESM hooks too, as `node --import tsx`) covers the modules the CLI loads lazily
// with import().
'use strict';
require('tsx/cjs');
import('tsx')
  .then(() => require('../src/cli/main.ts').main())
  .then((code) => {
    process.exitCode = code;
  });
