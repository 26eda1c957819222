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

/** A query and its bound parameters, in order. */
export interface BoundQuery {
  sql: string;
  params: string[];
}

/**
 * The most users whose relevance is scored. Above it a search is too broad for a score to mean much (a
 * fragment such as "son" or a mail domain), and scoring every match would cost time in proportion to their
 * number: such searches list their matches newest first, and say so in the cursor.
 */
export const RANKED_MATCHES = 2000;

/**
 * A search, compiled. Users are found in two tiers, disjoint and together exactly the users every word matches:
 * - `text`: every word in `users_text` (name, username, searchable fields) — one FTS5 query whose AND runs inside
 *   the index; scored by bm25 when it matches at most RANKED_MATCHES users;
 * - `rest`: the others, where some word matched only an encrypted field (`users_grams`), newest first.
 * Gathering both tables' hits for every word and grouping them by user (the obvious plan) costs more than the
 * lookups themselves; this way the first page of a name search never touches the second tier.
 */
export interface CompiledSearch {
  terms: SearchTerm[];
  /** FTS5 expression: every word in `users_text`. */
  textAll: string;
  /** FTS5 expression: any word in `users_grams`; null when no word can occur there. */
  gramsAny: string | null;
  /** The most parameters any query of this search binds. */
  maxParams: number;
}

export function compileSearch(terms: readonly SearchTerm[]): CompiledSearch {
  const grams = terms.flatMap((term) => (term.grams === null ? [] : [`(${term.grams})`]));
  const perWord = terms.length > 1 ? terms.reduce((n, term) => n + (term.grams === null ? 1 : 2), 0) : 0;
  return {
    terms: [...terms],
    textAll: terms.map((term) => term.text).join(" AND "),
    gramsAny: grams.length === 0 ? null : grams.join(" OR "),
    maxParams: 4 + perWord, // the text tier's 2 (scored, recent), and the rest tier's 2 + perWord
  };
}

const TEXT_HITS = "SELECT rowid FROM users_text WHERE users_text MATCH ?";

/**
 * Tier 0, every user all words match in `users_text`, as what a page's query is made of:
 * - `scored`: a CTE `text_scored(rid, score)` with the bm25 of at most RANKED_MATCHES + 1 hits (so that a broad
 *   search costs no more than that to score), and the arm that lists them when they are at most RANKED_MATCHES;
 * - `recent`: the arm that lists every hit otherwise (`score` 0), in rowid order, which FTS5 reads from the index
 *   as it goes, so that a page stops after its rows.
 * Exactly one arm yields rows. `ranked` forces one (a cursor keeps the order its first page had).
 */
export interface TextTier {
  cte: BoundQuery | null;
  scored: BoundQuery | null;
  recent: BoundQuery | null;
}

const SCORED_TEXT = `SELECT rowid AS rid, bm25(users_text, ${TEXT_WEIGHTS}) AS score FROM users_text WHERE users_text MATCH ?`;
const RECENT_TEXT = "SELECT rowid AS rid, 0 AS score FROM users_text WHERE users_text MATCH ?";
const SCORED_COUNT = "(SELECT count(*) FROM text_scored)";

export function textTier(search: CompiledSearch, ranked?: boolean): TextTier {
  const match = [search.textAll];
  if (ranked === false) return { cte: null, scored: null, recent: { sql: RECENT_TEXT, params: match } };
  const limit = ranked === undefined ? ` LIMIT ${RANKED_MATCHES + 1}` : "";
  return {
    cte: { sql: `text_scored AS MATERIALIZED (${SCORED_TEXT}${limit})`, params: match },
    scored: {
      sql: `SELECT rid, score FROM text_scored${ranked === undefined ? ` WHERE ${SCORED_COUNT} <= ${RANKED_MATCHES}` : ""}`,
      params: [],
    },
    recent:
      ranked === undefined ? { sql: `${RECENT_TEXT} AND ${SCORED_COUNT} > ${RANKED_MATCHES}`, params: match } : null,
  };
}

/**
 * Tier 1: `rid` of every other user all words match — some word only in `users_grams`. Candidates are the users
 * any word's n-grams match, in rowid order (FTS5 returns them so), each checked against every word.
 */
export function restTier(search: CompiledSearch): BoundQuery | null {
  if (search.gramsAny === null) return null;
  const checks: string[] = [`+rowid NOT IN (${TEXT_HITS})`];
  const params: string[] = [search.gramsAny, search.textAll];
  if (search.terms.length > 1) {
    for (const term of search.terms) {
      const inText = `+rowid IN (${TEXT_HITS})`;
      if (term.grams === null) {
        checks.push(inText);
        params.push(term.text);
      } else {
        checks.push(`(${inText} OR +rowid IN (SELECT rowid FROM users_grams WHERE users_grams MATCH ?))`);
        params.push(term.text, term.grams);
      }
    }
  }
  return {
    sql: `SELECT rowid AS rid FROM users_grams WHERE users_grams MATCH ? AND ${checks.join(" AND ")}`,
    params,
  };
}

/** `rid` of every user all words match (both tiers, unscored): for other sorts, and counts. */
export function allHits(search: CompiledSearch): BoundQuery {
  const rest = restTier(search);
  const text = { sql: `SELECT rowid AS rid FROM users_text WHERE users_text MATCH ?`, params: [search.textAll] };
  return rest === null ? text : { sql: `${text.sql} UNION ALL ${rest.sql}`, params: [...text.params, ...rest.params] };
}
