import { validationError } from "../../core/http/validation";
import {
  type CompiledSearch,
  compileSearch,
  ftsString,
  gramsMatch,
  SearchQueryError,
  searchWords,
} from "../search/fulltext.query";
import type { GramHasher } from "../search/keyed-grams";
import { type SearchScope, WHOLE_SEARCH } from "./users.fields-access";
import { normalizeEmail } from "./users.mapping";
import {
  type ContactHashers,
  contactHashers,
  normalizePhone,
  piiHasher,
  piiSearchText,
  type UserStore,
} from "./users.pii";

/**
 * `GET /v1/users?q=` (API.md, "Schema, search, SCIM"): every word of three characters or more must be part of the
 * user's name, username, searchable custom fields, email or phone, in any case. Name, username and fields are
 * matched in `users_text`; email and phone, stored encrypted, through their keyed n-grams in `users_grams`.
 */

export interface UserSearch extends CompiledSearch {
  /** The words searched for, as normalised: what a cursor is bound to. */
  words: string[];
}

/** A phone (E.164) has only digits and a leading `+`: a word with anything else cannot be part of one. */
const PHONE_FRAGMENT = /^\+?[0-9]+$/;

/** The word's `users_grams` MATCH expression over the sources the caller may search; null when none may match. */
async function gramsTerm(
  hashers: ContactHashers,
  pii: GramHasher,
  word: string,
  scope: SearchScope,
): Promise<string | null> {
  const phone = normalizePhone(word);
  const [email, phoneTokens, piiTokens] = await Promise.all([
    scope.email ? hashers.email.fragmentTokens(normalizeEmail(word)) : null,
    scope.phone && PHONE_FRAGMENT.test(phone) ? hashers.phone.fragmentTokens(phone) : null,
    scope.piiFields ? pii.fragmentTokens(piiSearchText(word)[0] ?? "") : null,
  ]);
  const either = [gramsMatch("contact", [email ?? [], phoneTokens ?? []]), gramsMatch("pii", [piiTokens ?? []])];
  const present = either.filter((match) => match !== null);
  return present.length === 0 ? null : present.join(" OR ");
}

/**
 * The word's `users_text` MATCH expression: all three columns, or only name and username when the caller may not
 * read every searchable field the `fields` column holds (they are indexed together, so they go together).
 */
function textTerm(word: string, scope: SearchScope): string {
  return scope.textFields ? ftsString(word) : `{name username} : ${ftsString(word)}`;
}

/**
 * Compiles `q`, or answers 400 VALIDATION_FAILED on `q` when no word is long enough or there are too many. A
 * `scope` narrower than the whole search (users.fields-access.ts) leaves out what the caller may not read, so
 * that `q=` can never find a user through it.
 */
export async function compileUserSearch(
  store: UserStore,
  q: string,
  scope: () => SearchScope | Promise<SearchScope> = () => WHOLE_SEARCH,
): Promise<UserSearch> {
  let words: string[];
  try {
    words = searchWords(q);
  } catch (error) {
    if (!(error instanceof SearchQueryError)) throw error;
    throw validationError([{ field: "q", code: "invalid_search", detail: error.message }], "query");
  }
  // searchable pii custom fields are matched through their own keyed n-grams; `pii_grams` is empty unless a
  // field is, so the phrase costs an empty lookup, not the schema read that would tell (that waits for the page,
  // unless the caller lacks a field grant: then its scope needs the schema, read while the keys are derived)
  const [hashers, pii, allowed] = await Promise.all([contactHashers(store), piiHasher(store), scope()]);
  const terms = await Promise.all(
    words.map(async (word) => ({
      text: textTerm(word, allowed),
      grams: await gramsTerm(hashers, pii, word, allowed),
    })),
  );
  return { ...compileSearch(terms), words: words.map((word) => word.toLowerCase()) };
}
