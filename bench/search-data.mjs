// The users of the search benchmark (bench/search.mjs): a deterministic, varied population (the same users on every
// run, so runs compare), the words searched for, the filters, and how many users each should find.
import { rng } from "../scripts/demo-data.mjs";

/** Custom fields defined on the benchmark tenant before seeding. */
export const DEPARTMENTS = [
  ["sales", 25],
  ["engineering", 24],
  ["support", 15],
  ["marketing", 10],
  ["finance", 8],
  ["operations", 8],
  ["hr", 7],
  ["legal", 3],
];
export const FIELDS = [
  { name: "department", type: "enum", enum: DEPARTMENTS.map(([d]) => d), filterable: true },
  { name: "seats", type: "integer", min: 0, max: 1000, filterable: true },
  // text found by q= (defined only if the API accepts `searchable`; the scenario says when it did not)
  { name: "title", type: "string", maxLength: 200, searchable: true },
];

// Common names first: a name's weight falls with its rank (Zipf-like, exponent 0.9), so a few are very common.
const FIRST_NAMES =
  `Maria James Wei Anna John Mohammed Sofia David Elena Michael Fatima Robert Olga Daniel Aisha Christopher
  Laura Thomas Yuki Jennifer Carlos Sarah Ahmed Emma Alexander Priya Joseph Chloe Mark Mei Andrew Lucia Kevin Nadia Paul
  Jessica Luis Hannah Steven Ana Brian Katherine Ivan Michelle Hiroshi Julia George Amira Richard Christina Pedro Linda
  Matthew Ingrid Jose Rebecca Tariq Kathleen Ali Diana Samuel Zoe Alexandra Raj Martina Jonathan Leila Patrick Grace
  Oscar Rachel Dmitri Nicole Kenji Victoria Omar Isabel Stefan Alice Marco Jenny Pierre Helena Lars Emily Juan Ivana
  Christian Ruth Francesco Chiara Nikolai Amelia Kwame Beatriz Tomasz Natalia Arjun Sienna Felix Noor Benjamin Ella
  René Zoë Søren Björn Anaïs`.split(/\s+/);
const LAST_NAMES =
  `Smith Garcia Chen Johnson Müller Kowalski Nguyen Williams Martin Rossi Brown Kim Silva Jones Wang Petrov
  Miller Lopez Tanaka Davis Rodriguez Wilson Anderson Hernandez Schmidt Taylor Thomas Moore Jackson Dubois Lee Perez
  Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Hill Green Adams
  Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins
  Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos
  Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders
  Patel Myers Long Ross Foster Jimenez Larsen Novak Fischer Weber Meyer Wagner Becker Schulz Hoffmann Kovacs Horvath
  Nowak Wiśniewski Dąbrowski Yılmaz Kaya Demir Şahin Ivanova Sokolov Popescu Ionescu Papadopoulos Andersson Johansson
  Karlsson Nielsen Hansen Jensen Virtanen Korhonen O'Brien Sullivan McCarthy Gallagher Okafor Mensah Mwangi Kamau Singh
  Kumar Sharma Gupta Reddy Ali Khan Hussain Rahman Sato Suzuki Takahashi Watanabe Park Choi Jung Tran Pham Le Hoang Zhang
  Liu Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin He Gao Santos Oliveira Souza Costa Pereira Carvalho Almeida
  Ferreira Ribeiro Barbosa Fernández González Rodríguez Jiménez Muñoz Álvarez Romero Navarro Molina Delgado Castro
  Ortega Rubio Marín Sanz Iglesias Medina Garrido Cortés Santiago Vázquez`.split(/\s+/);
/** Surnames that no other name, username, title or email contains; user i carries one when i % RARE_STEP = 7. */
const RARE_SURNAMES = ["Quillfeather", "Vanterpool", "Brzezinski", "Okonjo", "Haverkamp"];
const RARE_STEP = 5000;
const DOMAINS = [
  ["gmail.com", 30],
  ["outlook.com", 14],
  ["yahoo.com", 9],
  ["icloud.com", 7],
  ["proton.me", 4],
  ["acme.com", 8],
  ["globex.net", 6],
  ["initech.org", 5],
  ["umbrella-corp.com", 4],
  ["hooli.io", 3],
  ["example.org", 8],
  ["stark-industries.com", 2],
];
const SENIORITY = ["", "", "", "Junior ", "Senior ", "Senior ", "Lead ", "Principal ", "Head of ", "Chief "];
const FUNCTIONS = [
  "Sales",
  "Software",
  "Customer",
  "Product",
  "Data",
  "Finance",
  "People",
  "Legal",
  "Marketing",
  "Ops",
];
const ROLES = [
  "Engineer",
  "Manager",
  "Analyst",
  "Specialist",
  "Representative",
  "Architect",
  "Coordinator",
  "Director",
];

/**
 * The words `q=` is measured with, by class (the issue's: a rare surname, a common first-name fragment, an email
 * fragment, a 3-character fragment; plus a first and last name together). Each class's words are rotated.
 */
export const QUERY_CLASSES = [
  { name: "rare surname", words: ["Quillfeather", "Vanterpool", "Brzezinski", "Okonjo", "Haverkamp"] },
  { name: "first-name fragment", words: ["Chris", "Alex", "Kath", "Mich", "Jenn"] },
  { name: "email fragment", words: ["globex", "hooli.io", "@initech", "umbrella-corp", "stark-ind"] },
  { name: "3-char fragment", words: ["son", "ell", "ana", "ert", "ing"] },
  { name: "first and last name", words: ["Maria Garcia", "Wei Chen", "Anna Kowalski", "John Smith", "Olga Petrov"] },
];

/** Two conditions on indexed fields (the expression indexes of `filterable` custom fields, created_at's index). */
export const FILTERS = [
  {
    name: "department = sales and seats > 40 (common)",
    filter: 'attributes.department eq "sales" and attributes.seats gt 40',
    test: (u) => u.department === "sales" && u.seats > 40,
  },
  {
    name: "department = legal and seats > 110 (selective)",
    filter: 'attributes.department eq "legal" and attributes.seats gt 110',
    test: (u) => u.department === "legal" && u.seats > 110,
  },
  {
    // now-1d rather than now-1h: a million-user run seeds for longer than an hour on a slow machine
    name: "createdAt > now-1d and department = finance",
    filter: 'createdAt gt "now-1d" and attributes.department eq "finance"',
    test: (u) => u.department === "finance",
  },
];

/**
 * Variants measured beside the targets, with fewer samples: where a search's or a filter's time goes (the row
 * work of a page, the ranking, the fixed cost of compiling a search, one index condition alone).
 */
export const VARIANTS = [
  { name: "q=zqxjv (no user matches)", params: { q: "zqxjv", limit: "50" } },
  { name: "q=son&limit=1 (3-char word, one row)", params: { q: "son", limit: "1" } },
  { name: "q=son&sort=createdAt (3-char word, time order)", params: { q: "son", sort: "createdAt", limit: "50" } },
  { name: "q=Chris&limit=1 (first-name fragment, one row)", params: { q: "Chris", limit: "1" } },
  {
    name: "filter department = legal (one condition)",
    params: { filter: 'attributes.department eq "legal"', limit: "50" },
  },
  { name: "filter seats > 110 (one condition)", params: { filter: "attributes.seats gt 110", limit: "50" } },
  {
    name: "filter legal and seats > 110, limit=1",
    params: { filter: 'attributes.department eq "legal" and attributes.seats gt 110', limit: "1" },
  },
  { name: "list limit=1", params: { limit: "1" } },
  { name: "list limit=1000 (first page)", params: { limit: "1000" } },
];

function weighted(pairs) {
  const cumulative = [];
  let total = 0;
  for (const [, weight] of pairs) {
    total += weight;
    cumulative.push(total);
  }
  return (random) => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return pairs[lo][0];
  };
}

const zipf = (names) => names.map((name, rank) => [name, 1 / (rank + 1) ** 0.9]);
const ascii = (s) =>
  s
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z]+/g, "");

/**
 * The population: `user(i)` is the i-th user (the same for a given i on every run); `tally(user)` counts which
 * query words and filters it matches, which is what each search should then find (`expected`).
 */
export function population() {
  const pickFirst = weighted(zipf(FIRST_NAMES));
  const pickLast = weighted(zipf(LAST_NAMES));
  const pickDomain = weighted(DOMAINS);
  const pickDepartment = weighted(DEPARTMENTS);
  const words = QUERY_CLASSES.flatMap((c) => c.words);
  const expected = { words: Object.fromEntries(words.map((w) => [w, 0])), filters: FILTERS.map(() => 0) };
  const parts = Object.fromEntries(words.map((w) => [w, w.toLowerCase().split(/\s+/)]));

  function user(i) {
    const random = rng(i * 2654435761 + 12345);
    const first = pickFirst(random);
    const last =
      i % RARE_STEP === 7 ? RARE_SURNAMES[Math.floor(i / RARE_STEP) % RARE_SURNAMES.length] : pickLast(random);
    const data = {
      email: `${ascii(first)}.${ascii(last)}${i}@${pickDomain(random)}`,
      name:
        random() < 0.08
          ? `${first} ${String.fromCharCode(65 + Math.floor(random() * 26))}. ${last}`
          : `${first} ${last}`,
      attributes: {},
    };
    if (random() < 0.85) data.username = `${ascii(first)[0]}${ascii(last)}${i}`;
    if (random() < 0.35)
      data.phone = `+1${200 + Math.floor(random() * 800)}${String(Math.floor(random() * 1e7)).padStart(7, "0")}`;
    if (random() < 0.97) data.attributes.department = pickDepartment(random);
    if (random() < 0.95) data.attributes.seats = 1 + Math.floor(random() * 120);
    if (random() < 0.7) {
      const pick = (list) => list[Math.floor(random() * list.length)];
      data.attributes.title = `${pick(SENIORITY)}${pick(FUNCTIONS)} ${pick(ROLES)}`;
    }
    return data;
  }

  /** What q= can see of a user: name, username and searchable fields (text), email and phone (keyed n-grams). */
  function tally(data) {
    const haystack = [data.name, data.username ?? "", data.attributes.title ?? "", data.email, data.phone ?? ""]
      .join("\n")
      .toLowerCase();
    for (const word of words) if (parts[word].every((p) => haystack.includes(p))) expected.words[word]++;
    FILTERS.forEach((f, k) => {
      if (f.test(data.attributes)) expected.filters[k]++;
    });
  }

  return { user, tally, expected };
}
