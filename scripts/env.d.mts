// Types of scripts/env.mjs for the TypeScript that imports it (test-e2e/global-setup.ts).
export const ROOT: string;
export function parseDotenv(text: string): Record<string, string>;
export function loadWranglerEnv(): void;
export function randomBase64(bytes: number): string;
export function randomHex(bytes: number): string;
export function wranglerBin(): string;
