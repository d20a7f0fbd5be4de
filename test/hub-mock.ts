/**
 * A Hugging Face hub stand-in on loopback, speaking the parts of the protocol crossrank
 * uses: HEAD/GET /<repo>/resolve/<revision>/<file> with x-repo-commit and etags, LFS files
 * answered by a redirect to a content URL with x-linked-etag/x-linked-size, Range
 * requests, 401 for private repositories, 404 for missing files. Faults can be injected.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface MockRepo {
  commit: string;
  files: Map<string, Buffer>;
  private?: boolean;
}

export interface Faults {
  /** Cut the connection after this many body bytes, for the next N content requests. */
  cutAfterBytes?: number;
  cutTimes?: number;
  /** Serve this many fewer bytes than announced (a truncated body) on every request. */
  truncateBy?: number;
  /** Flip a byte of the served content (checksum mismatch). */
  corrupt?: boolean;
}

export interface RequestLog {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

const isLfs = (path: string) => /\.(onnx|onnx_data|safetensors|bin)$/.test(path);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export function repoFromDirectory(dir: string, commit: string): MockRepo {
  const files = new Map<string, Buffer>();
  const walk = (sub: string) => {
    for (const name of readdirSync(sub)) {
      const path = join(sub, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return { commit, files };
}

export class HubMock {
  readonly repos = new Map<string, MockRepo>();
  readonly log: RequestLog[] = [];
  faults: Faults = {};
  token = 'secret-token';
  #server: Server | undefined;

  get endpoint(): string {
    const address = this.#server!.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.log.push({ method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization });
    const url = new URL(req.url!, 'http://x');
    const cdn = /^\/cdn\/([^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.#serveContent(req, res, decodeURIComponent(cdn[1]), cdn[2]);
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return this.#status(res, 404);
    const [, repoId, revision, rawPath] = m;
    const path = decodeURIComponent(rawPath);
    const repo = this.repos.get(repoId);
    if (!repo) return this.#status(res, 404, 'RepoNotFound');
    if (repo.private && req.headers.authorization !== `Bearer ${this.token}`) return this.#status(res, 401);
    if (revision !== 'main' && revision !== repo.commit) return this.#status(res, 404, 'RevisionNotFound');
    const content = repo.files.get(path);
    if (!content) return this.#status(res, 404, 'EntryNotFound');
    if (isLfs(path)) {
      // LFS: metadata here, content behind a redirect (as the hub's CDN).
      res.writeHead(302, {
        location: `/cdn/${encodeURIComponent(repoId)}/${sha256(content)}`,
        'x-repo-commit': repo.commit,
        'x-linked-etag': `"${sha256(content)}"`,
        'x-linked-size': String(content.length),
        etag: `"${gitSha1(Buffer.from('pointer'))}"`,
      });
      return void res.end();
    }
    const headers = { 'x-repo-commit': repo.commit, etag: `"${gitSha1(content)}"`, 'content-length': String(content.length) };
    if (req.method === 'HEAD') return void res.writeHead(200, headers).end();
    this.#send(req, res, content, headers);
  }

  #serveContent(req: IncomingMessage, res: ServerResponse, repoId: string, hash: string): void {
    const repo = this.repos.get(repoId);
    const content = repo && [...repo.files.values()].find((b) => sha256(b) === hash);
    if (!content) return this.#status(res, 404);
    this.#send(req, res, content, {});
  }

  #send(req: IncomingMessage, res: ServerResponse, content: Buffer, headers: Record<string, string>): void {
    let body = content;
    if (this.faults.corrupt) {
      body = Buffer.from(content);
      body[body.length >> 1] ^= 0xff;
    }
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      if (start >= body.length) return this.#status(res, 416);
      body = body.subarray(start);
      status = 206;
      headers['content-range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
    }
    headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    const f = this.faults;
    if (f.cutAfterBytes !== undefined && (f.cutTimes ?? 0) > 0 && body.length > f.cutAfterBytes) {
      f.cutTimes!--;
      res.write(body.subarray(0, f.cutAfterBytes), () => res.destroy());
      return;
    }
    if (f.truncateBy) {
      res.write(body.subarray(0, Math.max(0, body.length - f.truncateBy)), () => res.destroy());
      return;
    }
    res.end(body);
  }

  #status(res: ServerResponse, status: number, code?: string): void {
    res.writeHead(status, code ? { 'x-error-code': code } : {});
    res.end();
  }
}
