import { connect } from "cloudflare:sockets";

/**
 * A small SMTP client (RFC 5321) over `cloudflare:sockets`: EHLO, STARTTLS (RFC 3207) or implicit TLS, AUTH PLAIN
 * or LOGIN (RFC 4954), MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. One message per connection: the
 * notification queue sends one message per queue message, and a connection left open would outlive the
 * invocation anyway.
 */

export interface SmtpOptions {
  host: string;
  port: number;
  security: "starttls" | "tls" | "none";
  username?: string | undefined;
  password?: string | undefined;
  /** The name this client gives in EHLO (RFC 5321 §4.1.1.1). */
  clientName: string;
  /** For each reply, in milliseconds. */
  timeoutMs: number;
}

export interface SmtpEnvelope {
  from: string;
  to: readonly string[];
}

/** A failure with the server's reply code when there is one; 5xx is permanent (retrying will not help). */
export class SmtpError extends Error {
  constructor(
    message: string,
    readonly code: number | null = null,
  ) {
    super(message);
    this.name = "SmtpError";
  }

  get permanent(): boolean {
    return this.code !== null && this.code >= 500;
  }
}

interface Reply {
  code: number;
  lines: string[];
}

type SocketLike = ReturnType<typeof connect>;

class Connection {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = "";
  readonly transcript: string[] = [];

  constructor(
    public socket: SocketLike,
    private readonly timeoutMs: number,
  ) {
    this.#reader = socket.readable.getReader();
    this.#writer = socket.writable.getWriter();
  }

  /** Replaces the socket by its TLS upgrade (after `220` to STARTTLS): the old streams must be released first. */
  upgrade(): void {
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    this.socket = this.socket.startTls();
    this.#reader = this.socket.readable.getReader();
    this.#writer = this.socket.writable.getWriter();
    this.#buffer = "";
  }

  async #line(): Promise<string> {
    for (;;) {
      const end = this.#buffer.indexOf("\r\n");
      if (end >= 0) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        return line;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SmtpError(`no reply within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      try {
        const { value, done } = await Promise.race([this.#reader.read(), timeout]);
        if (done) throw new SmtpError("the server closed the connection");
        this.#buffer += this.#decoder.decode(value, { stream: true });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** One reply; multi-line replies are `250-…` lines ending with a `250 …` line (RFC 5321 §4.2.1). */
  async reply(): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.#line();
      const match = /^(\d{3})([ -])(.*)$/.exec(line) ?? /^(\d{3})()$/.exec(line);
      if (!match) throw new SmtpError(`not an SMTP reply: ${line.slice(0, 100)}`);
      lines.push(match[3] ?? "");
      if (match[2] !== "-") {
        this.transcript.push(`S: ${match[1]} ${lines.at(-1)}`);
        return { code: Number(match[1]), lines };
      }
    }
  }

  async write(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /** Sends a command and expects one of `codes`; `shown` replaces it in errors (credentials). */
  async command(line: string, codes: readonly number[], shown = line): Promise<Reply> {
    this.transcript.push(`C: ${shown}`);
    await this.write(`${line}\r\n`);
    return this.expect(codes, shown);
  }

  async expect(codes: readonly number[], what: string): Promise<Reply> {
    const reply = await this.reply();
    if (!codes.includes(reply.code)) {
      throw new SmtpError(`${what}: ${reply.code} ${reply.lines.join(" ").slice(0, 300)}`, reply.code);
    }
    return reply;
  }

  async close(): Promise<void> {
    try {
      await this.socket.close();
    } catch {
      // already closed by the server after QUIT
    }
  }
}

/** The extensions an EHLO reply lists (the first line is the greeting), upper-cased: `AUTH PLAIN LOGIN`, `STARTTLS`. */
function extensions(reply: Reply): string[] {
  return reply.lines.slice(1).map((line) => line.toUpperCase());
}

function b64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * RFC 5321 §4.5.2: a line that starts with "." gets another one; line ends are CRLF. The message ends with
 * CRLF "." CRLF.
 */
export function dotStuff(message: string): string {
  const lines = message.replace(/\r?\n/g, "\r\n").split("\r\n");
  return lines.map((line) => (line.startsWith(".") ? `.${line}` : line)).join("\r\n");
}

async function authenticate(connection: Connection, ehlo: string[], username: string, password: string) {
  const auth = ehlo.find((line) => line.startsWith("AUTH ") || line.startsWith("AUTH="));
  const mechanisms = auth ? auth.slice(5).split(/\s+/) : [];
  if (mechanisms.includes("PLAIN")) {
    // RFC 4616: authzid NUL authcid NUL passwd
    await connection.command(`AUTH PLAIN ${b64(`\u0000${username}\u0000${password}`)}`, [235], "AUTH PLAIN ****");
  } else if (mechanisms.includes("LOGIN")) {
    await connection.command("AUTH LOGIN", [334]);
    await connection.command(b64(username), [334], "(username)");
    await connection.command(b64(password), [235], "(password)");
  } else {
    throw new SmtpError(`the server offers no AUTH mechanism this client has (PLAIN, LOGIN): ${auth ?? "none"}`, 530);
  }
}

/** Sends one message; resolves with the server's answer to the end of DATA (its queue id, usually). */
export async function sendSmtp(options: SmtpOptions, envelope: SmtpEnvelope, message: string): Promise<string> {
  const secureTransport = options.security === "tls" ? "on" : options.security === "starttls" ? "starttls" : "off";
  const socket = connect({ hostname: options.host, port: options.port }, { secureTransport, allowHalfOpen: false });
  const connection = new Connection(socket, options.timeoutMs);
  // where it failed, for the log: workerd reports a TLS failure to the script only as "internal error"
  let stage = "connect";
  try {
    await connection.expect([220], "greeting");
    stage = "EHLO";
    let ehlo = extensions(await connection.command(`EHLO ${options.clientName}`, [250]));
    if (options.security === "starttls") {
      if (!ehlo.includes("STARTTLS")) throw new SmtpError("the server does not offer STARTTLS", 530);
      stage = "STARTTLS";
      await connection.command("STARTTLS", [220]);
      stage = "TLS handshake after STARTTLS";
      connection.upgrade();
      await connection.socket.opened;
      // RFC 3207 §4.2: forget what was learnt before TLS and ask again
      ehlo = extensions(await connection.command(`EHLO ${options.clientName}`, [250]));
    }
    stage = "AUTH";
    if (options.username) await authenticate(connection, ehlo, options.username, options.password ?? "");
    stage = "sending";
    await connection.command(`MAIL FROM:<${envelope.from}>`, [250]);
    for (const to of envelope.to) await connection.command(`RCPT TO:<${to}>`, [250, 251]);
    await connection.command("DATA", [354]);
    await connection.write(`${dotStuff(message)}\r\n.\r\n`);
    const accepted = await connection.expect([250], "end of DATA");
    await connection.command("QUIT", [221]).catch(() => undefined);
    return accepted.lines.join(" ");
  } catch (error) {
    if (error instanceof SmtpError) throw error;
    throw new SmtpError(`${stage} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await connection.close();
  }
}
