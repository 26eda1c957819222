// .sql files are imported as text (wrangler's default Text rule; a Vite transform in vitest.config.ts).
declare module "*.sql" {
  const sql: string;
  export default sql;
}
