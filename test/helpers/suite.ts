/// <reference types="vite/client" />
import { describe } from "vitest";

/**
 * Runs a directory's test files as one vitest file: `test/<area>/<area>.suite.ts` calls it with
 * `import.meta.glob(["./*.test.ts", "!./*.isolated.test.ts"])`. Each vitest file starts its own workerd and loads the
 * worker's modules anew (several seconds); one per directory instead of one per file keeps the run inside CI's budget.
 * The files of a directory share storage, as the tests of one file always did (a file that changes what the whole
 * platform shares is `*.isolated.test.ts` and runs alone). Each file's tests and hooks stay in a describe block named
 * after it, so one file's beforeAll or afterEach never reaches another's tests.
 */
export function runTestFiles(files: Record<string, () => Promise<unknown>>): void {
  for (const [path, load] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    describe(path.replace(/^\.\//, "").replace(/\.test\.ts$/, ""), async () => {
      await load();
    });
  }
}
