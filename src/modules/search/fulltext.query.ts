/**
 * Full-text queries over the search tables of migrations/tenant/0010_search.sql. A query is a list of words, every
 * one of which must match (AND); a word matches a user when it is part of their name, username or searchable
 * fields (`users_text`, trigram tokenizer) or of an encrypted field (`users_grams`, keyed n-grams). Users'
 * words only ever reach SQL as bound MATCH strings, quoted as FTS5 strings, so FTS5 operators in them
 * (`NEAR`, `OR`, `*`, `^`, `:`, `-`, quotes) are plain text.
 */

/** The shortest word a trigram index can match. */
export const MIN_WORD_CHARS = 3;
/** Each word costs two bound parameters and two FTS5 lookups. */
export const MAX_WORDS = 8;
/** bm25 weights of `users_text`'s columns (name, username, fields): a username is what people type to find one. */
const TEXT_WEIGHTS = "1.0, 2.0, 1.0";
/** D1 allows at most 5 terms in one compound SELECT (SQLITE_LIMIT_COMPOUND_SELECT); longer unions are nested. */
const COMPOUND_TERMS = 5;

export class SearchQueryError extends Error {
  override readonly name = "SearchQueryError";
}

/**
 * The words to search for (NFC, deduplicated without regard to case, in the order given): `q` split on white space
 * and control characters. Words shorter than three characters cannot match through a trigram index and are left
 * out; a query with no longer word, or with more than MAX_WORDS, is refused.
 */
export function searchWords(q: string): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  // control characters separate words: nobody types them, and a NUL inside a MATCH string fails the query (a 500)
  for (const word of q.normalize("NFC").split(/[\s\p{Cc}]+/u)) {
    if (word === "" || seen.has(word.toLowerCase())) continue;
    seen.add(word.toLowerCase());
    if (Array.from(word).length >= MIN_WORD_CHARS) words.push(word);
  }
  if (words.length === 0) {
    throw new SearchQueryError(
      `Search words need at least ${MIN_WORD_CHARS} characters (a trigram index cannot match shorter ones).`,
    );
  }
  if (words.length > MAX_WORDS) throw new SearchQueryError(`At most ${MAX_WORDS} search words are supported.`);
  return words;
}

/**
 * An FTS5 string: the one place where a user's text enters a MATCH expression, and it is inert there. On
 * `users_text` the trigram tokenizer cuts it into trigrams that must occur consecutively: a substring.
 */
export function ftsString(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** A `users_grams` MATCH expression: any of these token phrases in `column`; null when there are none. */
export function gramsMatch(column: "contact" | "pii", phrases: readonly (readonly string[])[]): string | null {
  const quoted = phrases.filter((tokens) => tokens.length > 0).map((tokens) => `"${tokens.join(" ")}"`);
  if (quoted.length === 0) return null;
  return `${column} : ${quoted.length === 1 ? quoted[0] : `(${quoted.join(" OR ")})`}`;
}

/** One searched word: its MATCH expression on `users_text`, and on `users_grams` (null: it cannot occur there). */
export interface SearchTerm {
  text: string;
  grams: string | null;
}

export interface HitsQuery {
  /** `SELECT rid, score FROM …`: each matching user's rowid once, with its score (lower is better). */
  sql: string;
  params: string[];
}

/**
 * The users every term matches, with a relevance score: the sum over the terms of each one's bm25 (FTS5's, so
 * negative, lower is better) in the table(s) it matched. One FTS5 lookup per term and table, gathered by rowid;
 * a user is kept only when every term matched (count of distinct terms). Deterministic for a given index state,
 * so keyset paging on it is stable while the index does not change.
 */
export function hitsQuery(terms: readonly SearchTerm[]): HitsQuery {
  const parts: string[] = [];
  const params: string[] = [];
  terms.forEach((term, i) => {
    parts.push(`SELECT rowid AS rid, ${i} AS term, bm25(users_text, ${TEXT_WEIGHTS}) AS s FROM users_text
      WHERE users_text MATCH ?`);
    params.push(term.text);
    if (term.grams !== null) {
      parts.push(
        `SELECT rowid AS rid, ${i} AS term, bm25(users_grams) AS s FROM users_grams WHERE users_grams MATCH ?`,
      );
      params.push(term.grams);
    }
  });
  return {
    // one term: every hit matched it, nothing to count
    sql: `SELECT rid, sum(s) AS score FROM (${unionAll(parts)}) GROUP BY rid${
      terms.length > 1 ? ` HAVING count(DISTINCT term) = ${terms.length}` : ""
    }`,
    params,
  };
}

/** `a UNION ALL b …`, nested in groups so that no compound SELECT has more than COMPOUND_TERMS terms. */
function unionAll(selects: readonly string[]): string {
  if (selects.length <= COMPOUND_TERMS) return selects.join(" UNION ALL ");
  const groups: string[] = [];
  for (let i = 0; i < selects.length; i += COMPOUND_TERMS) {
    groups.push(`SELECT * FROM (${selects.slice(i, i + COMPOUND_TERMS).join(" UNION ALL ")})`);
  }
  return unionAll(groups);
}
