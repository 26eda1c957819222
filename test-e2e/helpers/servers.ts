// Real servers on 127.0.0.1 for the worker to call: an HTTP receiver and an SMTP server. Each listens on a port the
// OS picks and is closed by the test that started it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver answers a request: a status (and body), or "hang" to never answer (timeouts). */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | "hang";

export interface Receiver {
  /** `http://127.0.0.1:<port>` (add a path of your own). */
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Decides each answer; the default answers 200. Replace it at any time. */
  reply: (request: ReceivedRequest, index: number) => Reply | Promise<Reply>;
  /** Stops listening (connections are refused, as for a receiver that is down); `start()` listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startReceiver(): Promise<Receiver> {
  let server: Server | null = null;
  const receiver: Receiver = {
    url: "",
    port: 0,
    requests: [],
    reply: () => ({ status: 200 }),
    async stop() {
      const closing = server;
      server = null;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    async start() {
      const next = createServer((request, response) => void handle(request, response));
      receiver.port = await listen(next, receiver.port);
      receiver.url = `http://127.0.0.1:${receiver.port}`;
      server = next;
    },
  };
  async function handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const received: ReceivedRequest = {
      method: request.method ?? "",
      path: request.url ?? "",
      headers: headersOf(request),
      body: Buffer.concat(chunks).toString("utf8"),
      at: Date.now(),
    };
    const index = receiver.requests.push(received) - 1;
    const reply = await receiver.reply(received, index);
    if (reply === "hang") return;
    response.writeHead(reply.status, reply.headers);
    response.end(reply.body ?? "");
  }
  await receiver.start();
  return receiver;
}

export interface SmtpSink {
  port: number;
  messages: (ParsedMail & { envelope: { from: string; to: string[] }; auth?: { username: string } })[];
  close(): Promise<void>;
}

/**
 * A real SMTP server (the `smtp-server` package) that parses every message it accepts with `mailparser`.
 * `users` turns authentication on (AUTH PLAIN/LOGIN); without it any sender is accepted.
 */
export async function startSmtp(
  options: { users?: Record<string, string>; server?: Partial<SMTPServerOptions> } = {},
): Promise<SmtpSink> {
  const messages: SmtpSink["messages"] = [];
  const users = options.users;
  const server = new SMTPServer({
    disabledCommands: users ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !users,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, done) {
      if (users && auth.username && users[auth.username] === auth.password) done(null, { user: auth.username });
      else done(new Error("Invalid username or password"));
    },
    onData(stream, session, done) {
      simpleParser(stream)
        .then((mail) => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
          messages.push(
            Object.assign(mail, {
              envelope: { from, to: session.envelope.rcptTo.map((r) => r.address) },
              ...(typeof session.user === "string" ? { auth: { username: session.user } } : {}),
            }),
          );
          done();
        })
        .catch(done);
    },
    ...options.server,
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.server.address() as AddressInfo).port));
  });
  return {
    port,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
