// A local stand-in for Upstash's REST API in front of a stock Redis, for the `upstash` rate-limit backend
// (@upstash/ratelimit over @upstash/redis) in tests and `npm run dev`. Why not a published proxy:
// - @upstash/ratelimit's Lua scripts start with `#!lua flags=allow-key-locking`, a shebang flag stock Redis rejects
//   ("Unexpected flag in script shebang"): the proxy drops that line and maps the client's SHA1 (of the text with it)
//   to the one Redis knows (of the text without it), so EVALSHA hits once the proxy has seen the script;
// - the npm proxies have no `/multi-exec` (redis.multi()) and no `Upstash-Encoding: base64`, which @upstash/redis
//   asks for by default.
// Wire format as @upstash/redis 1.39 speaks it: POST `/` with a JSON command array → `{result}`, or `{error}` with
// status 400; POST `/pipeline` (where the client batches most commands: `enableAutoPipelining` is on by default) and
// `/multi-exec` with an array of commands → `[{result}|{error}, ...]` (a transaction discarded as a whole →
// `{error}`, 400); `Authorization: Bearer <token>`, else 401 `{error}`. With `Upstash-Encoding: base64` every string
// in a result is base64 except a top-level "OK" (integers and null as they are); errors are never encoded.
// Usage: node scripts/upstash-rest-proxy.mjs --token <token> [--redis-port 6379] [--redis-host 127.0.0.1] [--port 8079]
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { connect } from "node:net";

/** A Redis error reply (`-ERR ...`), kept as a value: inside EXEC's reply it is one command's result. */
class RedisError {
  /** @param {string} message */
  constructor(message) {
    this.message = message;
  }
}

/**
 * A RESP2 reply: simple string (string), bulk string (Buffer: values may be any bytes), integer, null, error, array.
 * @typedef {string | Buffer | number | null | RedisError | Reply[]} Reply
 */

/**
 * One reply starting at `pos`, with the position after it; undefined when `buf` does not hold all of it yet.
 * @param {Buffer} buf
 * @param {number} pos
 * @returns {[Reply, number] | undefined}
 */
function parseReply(buf, pos) {
  const eol = buf.indexOf("\r\n", pos);
  if (eol === -1) return undefined;
  const line = buf.toString("utf8", pos + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[pos] ?? 0)) {
    case "+":
      return [line, next];
    case "-":
      return [new RedisError(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buf.length < next + length + 2) return undefined;
      return [buf.subarray(next, next + length), next + length + 2];
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(buf.toString("utf8", pos, eol))}`);
  }
}

/**
 * One pipelined connection: commands are written as they come (before the socket is connected, Node queues them) and
 * Redis answers in order. Commands written in one `send` reach Redis back to back, so MULTI ... EXEC in one `send` is
 * a transaction of its own. A blocking command (BLPOP) holds up every other request: fine for tests and dev.
 */
class RedisConnection {
  /** @type {{ resolve: (reply: Reply) => void, reject: (error: Error) => void }[]} */
  #pending = [];
  #buffer = Buffer.alloc(0);
  #socket;

  /**
   * @param {number} port
   * @param {string} host
   */
  constructor(port, host) {
    let failure = new Error("the connection to redis closed");
    this.#socket = connect(port, host);
    this.#socket.on("data", (chunk) => this.#receive(chunk));
    this.#socket.on("error", (error) => {
      failure = error;
    });
    this.#socket.on("close", () => {
      for (const { reject } of this.#pending.splice(0)) reject(failure);
    });
  }

  get closed() {
    return this.#socket.destroyed;
  }

  /**
   * @param {string[][]} commands
   * @returns {Promise<Reply[]>}
   */
  send(commands) {
    const replies = commands.map(() => new Promise((resolve, reject) => this.#pending.push({ resolve, reject })));
    const encode = (/** @type {string[]} */ args) =>
      `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`;
    this.#socket.write(commands.map(encode).join(""));
    return Promise.all(replies);
  }

  close() {
    this.#socket.destroy();
  }

  /** @param {Buffer} chunk */
  #receive(chunk) {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    let pos = 0;
    for (let reply = parseReply(this.#buffer, pos); reply; reply = parseReply(this.#buffer, pos)) {
      pos = reply[1];
      this.#pending.shift()?.resolve(reply[0]);
    }
    this.#buffer = this.#buffer.subarray(pos);
  }
}

/**
 * Commands that change the state of the one shared connection (a transaction, a subscription, another database):
 * refused, as Upstash refuses the raw ones over REST (/multi-exec is the transaction API).
 */
const CONNECTION_STATE = new Set([
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SELECT",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "MONITOR",
  "RESET",
  "HELLO",
  "QUIT",
]);

/** @param {string} text */
const sha1 = (text) => createHash("sha1").update(text).digest("hex");

/**
 * @param {Reply} reply
 * @param {boolean} base64
 * @param {boolean} top whether the reply is a whole result (where @upstash/redis takes "OK" as it is)
 * @returns {unknown}
 */
function toJson(reply, base64, top) {
  if (reply === null || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64, false));
  // an error inside an array (a Lua table with an `err` field): its message, as there is no JSON shape for it
  if (reply instanceof RedisError) return reply.message;
  if (typeof reply === "string")
    return base64 && !(top && reply === "OK") ? Buffer.from(reply).toString("base64") : reply;
  // invalid UTF-8 in a value becomes U+FFFD, as Upstash does without base64
  return reply.toString(base64 ? "base64" : "utf8");
}

/**
 * @param {{ redisPort: number, redisHost?: string, token: string, port?: number }} options
 * @returns {Promise<import("./upstash-rest-proxy.d.mts").UpstashProxy>}
 */
export async function startUpstashProxy({ redisPort, redisHost = "127.0.0.1", token, port = 0 }) {
  /** EVALSHA calls, and those Redis answered NOSCRIPT (the client then sends EVAL): hits = evalsha - misses. */
  const stats = { evalsha: 0, evalshaMisses: 0 };
  /** SHA1 of a script as the client has it (shebang included) → SHA1 of the script Redis was given. */
  const scriptShas = new Map();
  /** @type {RedisConnection | undefined} */
  let connection;
  /** The connection, opened again when Redis went away (a restarted dev Redis). */
  const redis = () => {
    if (!connection || connection.closed) connection = new RedisConnection(redisPort, redisHost);
    return connection;
  };

  /** @param {string} script */
  const stripShebang = (script) => {
    if (!script.startsWith("#!")) return script;
    // the line's text goes, its newline stays: Lua errors keep the client's line numbers
    const stripped = script.replace(/^#![^\n]*/, "");
    scriptShas.set(sha1(script), sha1(stripped));
    return stripped;
  };
  /** @param {string} sha */
  const redisSha = (sha) => scriptShas.get(sha.toLowerCase()) ?? sha;

  /**
   * A client command as Redis gets it, and how its reply goes back; `refused` when it is not sent at all.
   * @param {unknown} command
   * @returns {{ args: string[], reply: (reply: Reply) => Reply } | { refused: string }}
   */
  function prepare(command) {
    if (!Array.isArray(command) || command.length === 0) return { refused: "ERR a command is a non-empty JSON array" };
    if (!command.every((arg) => ["string", "number", "boolean"].includes(typeof arg))) {
      return { refused: "ERR command arguments must be strings or numbers" };
    }
    const args = command.map(String);
    const name = args[0].toUpperCase();
    const sub = args[1]?.toUpperCase();
    if (CONNECTION_STATE.has(name)) return { refused: `ERR ${name} is not supported over REST` };
    if ((name === "EVAL" || name === "EVAL_RO") && args[1] !== undefined) args[1] = stripShebang(args[1]);
    if (name === "EVALSHA" || name === "EVALSHA_RO") {
      if (args[1] !== undefined) args[1] = redisSha(args[1]);
      return {
        args,
        reply: (reply) => {
          stats.evalsha++;
          if (reply instanceof RedisError && reply.message.startsWith("NOSCRIPT")) stats.evalshaMisses++;
          return reply;
        },
      };
    }
    if (name === "SCRIPT" && sub === "EXISTS") {
      for (let i = 2; i < args.length; i++) args[i] = redisSha(args[i]);
    }
    if (name === "SCRIPT" && sub === "LOAD" && args[2] !== undefined) {
      const clientSha = sha1(args[2]);
      args[2] = stripShebang(args[2]);
      // the SHA the client would get from Upstash, which EVALSHA then maps
      return { args, reply: (reply) => (reply instanceof RedisError ? reply : clientSha) };
    }
    return { args, reply: (reply) => reply };
  }

  /**
   * @param {string} path
   * @param {unknown} body
   * @param {boolean} base64
   * @returns {Promise<[number, unknown]>} status and body
   */
  async function execute(path, body, base64) {
    /** @param {Reply} reply */
    const entry = (reply) =>
      reply instanceof RedisError ? { error: reply.message } : { result: toJson(reply, base64, true) };
    if (path === "/") {
      const command = prepare(body);
      if ("refused" in command) return [400, { error: command.refused }];
      const [reply = null] = await redis().send([command.args]);
      const result = command.reply(reply);
      return [result instanceof RedisError ? 400 : 200, entry(result)];
    }
    if (path !== "/pipeline" && path !== "/multi-exec") return [404, { error: `ERR unknown path ${path}` }];
    if (!Array.isArray(body) || body.length === 0)
      return [400, { error: "ERR expected a non-empty array of commands" }];
    const commands = body.map(prepare);
    if (path === "/pipeline") {
      const sent = commands.flatMap((command) => ("args" in command ? [command.args] : []));
      const replies = await redis().send(sent);
      return [
        200,
        commands.map((command) =>
          "refused" in command ? { error: command.refused } : entry(command.reply(replies.shift() ?? null)),
        ),
      ];
    }
    // a refused command discards the whole transaction, as Upstash does with an unsupported one
    const refused = commands.flatMap((command) => ("refused" in command ? [command.refused] : []));
    if (refused.length) return [400, { error: refused[0] }];
    const ready = /** @type {{ args: string[], reply: (reply: Reply) => Reply }[]} */ (commands);
    const replies = await redis().send([["MULTI"], ...ready.map((command) => command.args), ["EXEC"]]);
    const exec = replies.at(-1);
    if (!Array.isArray(exec)) {
      // EXECABORT: a command was refused while queueing (unknown, wrong arity); its error says which
      const cause = replies.slice(1, -1).find((reply) => reply instanceof RedisError) ?? exec;
      return [400, { error: cause instanceof RedisError ? cause.message : "ERR transaction discarded" }];
    }
    return [200, exec.map((reply, i) => entry(ready[i].reply(reply)))];
  }

  const server = createServer(async (req, res) => {
    /** @param {number} status @param {unknown} body */
    const send = (status, body) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (req.headers.authorization !== `Bearer ${token}`)
      return send(401, { error: "WRONGPASS invalid or missing auth token" });
    if (req.method !== "POST") return send(405, { error: "ERR only POST is supported" });
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(400, { error: "ERR the body is not JSON" });
    }
    const path = new URL(req.url ?? "/", "http://proxy").pathname;
    try {
      send(...(await execute(path, body, req.headers["upstash-encoding"] === "base64")));
    } catch (error) {
      send(502, {
        error: `ERR the proxy cannot reach redis at ${redisHost}:${redisPort}: ${error instanceof Error ? error.message : error}`,
      });
    }
  });
  await new Promise((resolve, reject) =>
    server.once("error", reject).listen(port, "127.0.0.1", () => resolve(undefined)),
  );
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}`,
    token,
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      connection?.close();
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  /** @param {string} name */
  const flag = (name) => {
    const at = process.argv.indexOf(`--${name}`);
    return at === -1 ? undefined : process.argv[at + 1];
  };
  const token = flag("token");
  if (!token) {
    console.error(
      "usage: node scripts/upstash-rest-proxy.mjs --token <token> [--redis-port 6379] [--redis-host 127.0.0.1] [--port 8079]",
    );
    process.exit(2);
  }
  const redisPort = Number(flag("redis-port") ?? 6379);
  const proxy = await startUpstashProxy({
    redisPort,
    redisHost: flag("redis-host") ?? "127.0.0.1",
    token,
    port: Number(flag("port") ?? 8079),
  });
  console.log(
    `Upstash REST proxy for redis port ${redisPort}: UPSTASH_REDIS_REST_URL=${proxy.url} UPSTASH_REDIS_REST_TOKEN=${token}`,
  );
}
