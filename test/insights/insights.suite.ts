import { runTestFiles } from "../helpers/suite";

runTestFiles(import.meta.glob(["./*.test.ts", "!./*.isolated.test.ts"]));
