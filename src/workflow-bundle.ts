// The product's workflow bundle: its entry, and what the worker's reusable V8 context loads once for all workflows.
// Without `preloadModules`, every workflow execution evaluates every module of the bundle again (the SDK keeps a module
// cache per execution): measured, 0.4 ms of worker CPU per solve, a tenth of what the product costs over Temporal's
// bare shape. Preloaded, the modules are evaluated once and their exports frozen (SDK issue #1958, PR #1999). That is
// safe because no module of the bundle keeps state of its own: every workflow's state lives in its function's scope,
// and lint refuses a module-level `let` or `var` there (eslint.config.mjs).
export const WORKFLOWS_PATH = require.resolve('../workflows');

/** `bundleWorkflowCode` options (and the worker's `bundlerOptions`) for the product's workflows. */
export const PRODUCT_BUNDLE = Object.freeze({ workflowsPath: WORKFLOWS_PATH, preloadModules: Object.freeze([WORKFLOWS_PATH]) as string[] });
