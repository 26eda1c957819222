// A worker for the benchmark only: the production password hash, alone, in the same runtime (workerd) as the
// service, so `npm run bench` can report what one hash costs without any route, storage or proxy around it.
// Timed from outside (workerd freezes the clock during synchronous work, so in-worker timing would read 0).
import { hashPassword } from "../src/core/crypto/password";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname === "/hash") {
      return new Response(await hashPassword(env, "correct horse battery staple"));
    }
    return new Response("noop");
  },
} satisfies ExportedHandler<Env>;
