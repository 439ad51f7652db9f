// A loopback HTTP source for embedded chDB's url() table function: a range's COPY streams straight into
// `INSERT … SELECT … FROM url(…)`, with no temp file. Each offer is one unguessable path served to one GET only
// (a second request gets 410, so ClickHouse can never read a range twice); the body is chunked, and a COPY that
// fails midway destroys the response before its last chunk, which ClickHouse reports as an error: the range's
// one insert block is then not committed. Measured on 1M rows: chDB reading it costs less CPU than reading a file
// Node has written, and Node no longer writes one.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FeedOffer {
  url: string;
  /** Forget the offer (a later request gets 410). */
  withdraw(): void;
}

export class RangeFeed {
  private readonly offers = new Map<string, (response: ServerResponse) => void>();

  private constructor(
    private readonly server: Server,
    private readonly base: string,
  ) {}

  static async open(): Promise<RangeFeed> {
    let feed: RangeFeed | undefined;
    const server = createServer((request, response) => feed!.handle(request, response));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    feed = new RangeFeed(server, `http://127.0.0.1:${port}`);
    return feed;
  }

  /** `serve` is called once, with the response of the first GET, and must write the body and end it. */
  offer(serve: (response: ServerResponse) => void): FeedOffer {
    const token = randomBytes(24).toString('hex');
    this.offers.set(token, serve);
    return { url: `${this.base}/${token}`, withdraw: () => this.offers.delete(token) };
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const token = (request.url ?? '').slice(1);
    const serve = this.offers.get(token);
    if (!serve || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(serve ? 405 : 410).end();
      return;
    }
    if (request.method === 'HEAD') {
      response.writeHead(200, { 'content-type': 'text/tab-separated-values' }).end();
      return;
    }
    this.offers.delete(token);
    response.writeHead(200, { 'content-type': 'text/tab-separated-values' });
    serve(response);
  }

  async close(): Promise<void> {
    this.offers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
