#!/usr/bin/env node
// `npx captcha-dlq` from a clone: runs the TypeScript CLI through tsx (no build step).
'use strict';
require('tsx/cjs');
require('../src/cli.ts').main().then((code) => {
  process.exitCode = code;
});
