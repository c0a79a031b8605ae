import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { ReconSyncError, toRpcError } from './errors.ts';
import type { Cancel, Req, Res } from './frames.ts';
import type { MethodRegistry } from './methods.ts';
import { safeParse } from './safe-parse.ts';

export type RpcFrame = Req | Res | Cancel;

export interface HandlerContext {
  requestId: string;
  signal: AbortSignal;
}

export type Handlers<R extends MethodRegistry> = {
  [M in keyof R]?: (params: z.output<R[M]['params']>, ctx: HandlerContext) => Promise<z.input<R[M]['result']>>;
};

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Reuse an id to make a retried call idempotent: the peer answers it from its memory. */
  id?: string;
}

export interface RpcPeerOptions<Out extends MethodRegistry, In extends MethodRegistry> {
  outgoing: Out;
  incoming: In;
  handlers: Handlers<In>;
  /** Default timeout per outgoing method. */
  timeouts: Partial<Record<keyof Out, number>>;
  /** How many finished request ids to remember for de-duplication. */
  dedupeSize?: number;
  /** Called for frames this peer wants to send; return false when the link is down. */
  send?: (frame: RpcFrame) => boolean;
  onCallSettled?: (method: string, outcome: 'ok' | string, ms: number) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_DEDUPE_SIZE = 2048;

/**
 * A request being served. The AbortController is made only when the handler
 * reads `ctx.signal`: most calls never do, and this is the hot path.
 */
class RunningCall {
  #ctrl: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  get signal(): AbortSignal {
    if (!this.#ctrl) {
      this.#ctrl = new AbortController();
      if (this.#aborted) this.#ctrl.abort(this.#reason);
    }
    return this.#ctrl.signal;
  }
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#ctrl?.abort(reason);
  }
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (err: ReconSyncError) => void;
  timer: NodeJS.Timeout;
  cleanup: () => void;
  started: number;
}

/**
 * One end of the request/response channel. Transport agnostic: the owner
 * feeds it frames and gives it a `send`. Kept separate from the socket so the
 * agent can keep one peer (and its de-dup memory) across reconnects.
 */
export class RpcPeer<Out extends MethodRegistry, In extends MethodRegistry> {
  readonly #opts: RpcPeerOptions<Out, In>;
  readonly #pending = new Map<string, Pending>();
  /** Requests being executed or recently finished, by id: the same id is answered, not re-run. */
  readonly #seen = new Map<string, Promise<Res>>();
  readonly #running = new Map<string, RunningCall>();
  #send: ((frame: RpcFrame) => boolean) | undefined;

  constructor(opts: RpcPeerOptions<Out, In>) {
    this.#opts = opts;
    this.#send = opts.send;
  }

  /** Attach a new transport (or detach with undefined). */
  setSender(send: ((frame: RpcFrame) => boolean) | undefined): void {
    this.#send = send;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  call<M extends keyof Out & string>(method: M, params: z.input<Out[M]['params']>, options: CallOptions = {}): Promise<z.output<Out[M]['result']>> {
    const spec = this.#opts.outgoing[method];
    if (!spec) return Promise.reject(new ReconSyncError('UNKNOWN_METHOD', `unknown method ${method}`));
    const checked = safeParse(spec.params, params);
    if (!checked.success) {
      return Promise.reject(new ReconSyncError('INVALID_PARAMS', `${method}: ${checked.error.issues[0]?.path.join('.') ?? ''} ${checked.error.issues[0]?.message ?? ''}`.trim()));
    }
    if (options.signal?.aborted) return Promise.reject(new ReconSyncError('CANCELLED', `${method} cancelled`));
    const id = options.id ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? this.#opts.timeouts[method] ?? DEFAULT_TIMEOUT_MS;
    const send = this.#send;
    if (!send) return Promise.reject(new ReconSyncError('AGENT_OFFLINE', 'peer is not connected'));

    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#settle(id, new ReconSyncError('CANCELLED', `${method} cancelled`));
        this.#send?.({ type: 'cancel', id });
      };
      const timer = setTimeout(() => {
        this.#settle(id, new ReconSyncError('TIMEOUT', `${method} got no answer within ${timeoutMs} ms`));
        this.#send?.({ type: 'cancel', id });
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        method,
        resolve: (raw) => {
          const result = safeParse(spec.result, raw);
          if (result.success) resolve(result.data as z.output<Out[M]['result']>);
          else reject(new ReconSyncError('INTERNAL', `${method}: peer sent a malformed result (${result.error.issues[0]?.message})`));
        },
        reject,
        timer,
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
        started: performance.now(),
      });
      if (!send({ type: 'req', id, method, params: checked.data, timeoutMs })) {
        this.#settle(id, new ReconSyncError('AGENT_OFFLINE', 'peer is not connected'));
      }
    });
  }

  /** Feed an incoming req/res/cancel frame. */
  handle(frame: RpcFrame): void {
    if (frame.type === 'res') {
      if (frame.ok) this.#settle(frame.id, undefined, frame.result);
      else this.#settle(frame.id, ReconSyncError.from(frame.error));
    } else if (frame.type === 'cancel') {
      this.#running.get(frame.id)?.abort(new ReconSyncError('CANCELLED', 'cancelled by caller'));
    } else {
      void this.#serve(frame);
    }
  }

  /** The link dropped: every call in flight fails with DISCONNECTED; running handlers keep going. */
  disconnect(reason = 'link lost during the call'): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, new ReconSyncError('DISCONNECTED', reason));
  }

  /** Stop everything: pending calls fail and running handlers are aborted. */
  close(): void {
    this.disconnect('peer closed');
    for (const ctrl of this.#running.values()) ctrl.abort(new ReconSyncError('CANCELLED', 'shutting down'));
    this.#send = undefined;
  }

  #settle(id: string, err: ReconSyncError | undefined, result?: unknown): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.cleanup();
    this.#opts.onCallSettled?.(pending.method, err ? err.code : 'ok', performance.now() - pending.started);
    if (err) pending.reject(err);
    else pending.resolve(result);
  }

  async #serve(req: Req): Promise<void> {
    let answer = this.#seen.get(req.id);
    if (!answer) {
      answer = this.#execute(req);
      this.#seen.set(req.id, answer);
      const limit = this.#opts.dedupeSize ?? DEFAULT_DEDUPE_SIZE;
      if (this.#seen.size > limit) {
        const oldest = this.#seen.keys().next().value;
        if (oldest !== undefined) this.#seen.delete(oldest);
      }
    }
    const res = await answer;
    // Sent on whatever link is current: a reply computed across a reconnect still arrives.
    this.#send?.(res);
  }

  async #execute(req: Req): Promise<Res> {
    const spec = Object.hasOwn(this.#opts.incoming, req.method) ? this.#opts.incoming[req.method] : undefined;
    const handler = spec ? this.#opts.handlers[req.method as keyof In] : undefined;
    if (!spec || !handler) {
      return { type: 'res', id: req.id, ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method ${req.method.slice(0, 64)}`, retryable: false } };
    }
    const params = safeParse(spec.params, req.params);
    if (!params.success) {
      const issue = params.error.issues[0];
      return { type: 'res', id: req.id, ok: false, error: { code: 'INVALID_PARAMS', message: `${req.method}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`, retryable: false } };
    }
    const running = new RunningCall();
    this.#running.set(req.id, running);
    try {
      const ctx: HandlerContext = { requestId: req.id, get signal() { return running.signal; } };
      const result = await handler(params.data as z.output<In[keyof In]['params']>, ctx);
      return { type: 'res', id: req.id, ok: true, result };
    } catch (err) {
      return { type: 'res', id: req.id, ok: false, error: toRpcError(err) };
    } finally {
      this.#running.delete(req.id);
    }
  }
}
