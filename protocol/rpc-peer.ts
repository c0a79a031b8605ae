import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { systemClock, type Clock } from './clock.ts';
import { ReconSyncError, toRpcError } from './errors.ts';
import { DeadlineTimer } from './deadline-timer.ts';
import type { Cancel, Req, Res } from './frame-schemas.ts';
import type { MethodRegistry } from './methods.ts';
import { safeParse } from './safe-parse.ts';
import { firstIssue } from '../lib/zod-issue.ts';

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
  /** Deadlines and call latencies are measured on it (default: the system clock). */
  clock?: Clock;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_DEDUPE_SIZE = 2048;
/** Random bytes in each peer's request-id prefix (base64url: 16 characters, 96 bits). */
const ID_PREFIX_BYTES = 12;
/** Shared default for call(): no object per call. */
const NO_OPTIONS: CallOptions = Object.freeze({});

/*
 * Everything below runs once per RPC on both ends, so it is written to
 * allocate little: calls and running requests are class instances (no
 * per-call closures; under tsx every named closure also costs a
 * defineProperty), one timer per peer watches every call's deadline
 * (deadline-timer.ts), and request ids are a per-peer random prefix plus a
 * counter instead of a UUID.
 */

/**
 * A request being served; it is also the handler's context. The
 * AbortController is made only when the handler reads `ctx.signal`: most
 * calls never do.
 */
class RunningCall implements HandlerContext {
  readonly requestId: string;
  #ctrl: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  constructor(requestId: string) {
    this.requestId = requestId;
  }
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

/** An outgoing call waiting for its answer. */
class PendingCall {
  resolve!: (value: unknown) => void;
  reject!: (err: ReconSyncError) => void;
  /** Only set when the caller passed a signal. */
  onAbort: (() => void) | undefined;
  constructor(
    readonly id: string,
    readonly method: string,
    readonly result: z.ZodType,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
    readonly started: number,
    /** Clock time after which the call fails with TIMEOUT. */
    readonly deadline: number,
  ) {}
}

/**
 * One end of the request/response channel. Transport agnostic: the owner
 * feeds it frames and gives it a `send`. Kept separate from the socket so the
 * agent can keep one peer (and its de-dup memory) across reconnects.
 */
export class RpcPeer<Out extends MethodRegistry, In extends MethodRegistry> {
  readonly #opts: RpcPeerOptions<Out, In>;
  readonly #pending = new Map<string, PendingCall>();
  /** Requests being executed or recently finished, by id: the same id is answered, not re-run. */
  readonly #seen = new Map<string, Promise<Res>>();
  readonly #running = new Map<string, RunningCall>();
  readonly #dedupeSize: number;
  /** The ids in #seen in arrival order: a ring of up to dedupeSize slots, the oldest at #seenNext once full. */
  readonly #seenOrder: string[] = [];
  #seenNext = 0;
  #send: ((frame: RpcFrame) => boolean) | undefined;
  /** Ids of this peer's calls: `<random prefix>.<counter>`, unique across peers and reconnects without a UUID per call. */
  readonly #idPrefix = `${randomBytes(ID_PREFIX_BYTES).toString('base64url')}.`;
  #idCounter = 0;
  readonly #clock: Clock;
  readonly #deadlines: DeadlineTimer;

  constructor(opts: RpcPeerOptions<Out, In>) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#deadlines = new DeadlineTimer(this.#clock, (at) => this.#expireDue(at));
    this.#send = opts.send;
    this.#dedupeSize = Math.max(1, opts.dedupeSize ?? DEFAULT_DEDUPE_SIZE);
  }

  /** Attach a new transport (or detach with undefined). */
  setSender(send: ((frame: RpcFrame) => boolean) | undefined): void {
    this.#send = send;
  }

  /** Whether `id` is a call of ours still waiting for its answer. */
  awaits(id: string): boolean {
    return this.#pending.has(id);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  call<M extends keyof Out & string>(method: M, params: z.input<Out[M]['params']>, options: CallOptions = NO_OPTIONS): Promise<z.output<Out[M]['result']>> {
    const spec = this.#opts.outgoing[method];
    if (!spec) return Promise.reject(new ReconSyncError('UNKNOWN_METHOD', `unknown method ${method}`));
    const checked = safeParse(spec.params, params);
    if (!checked.success) {
      return Promise.reject(new ReconSyncError('INVALID_PARAMS', `${method}: ${firstIssue(checked.error)}`));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new ReconSyncError('CANCELLED', `${method} cancelled`));
    const id = options.id ?? this.#idPrefix + (this.#idCounter++).toString(36);
    const timeoutMs = options.timeoutMs ?? this.#opts.timeouts[method] ?? DEFAULT_TIMEOUT_MS;
    const send = this.#send;
    if (!send) return Promise.reject(new ReconSyncError('AGENT_OFFLINE', 'peer is not connected'));

    const started = this.#clock.now();
    const pending = new PendingCall(id, method, spec.result, timeoutMs, signal, started, started + timeoutMs);
    const promise = new Promise<z.output<Out[M]['result']>>((resolve, reject) => {
      pending.resolve = resolve as (value: unknown) => void;
      pending.reject = reject;
    });
    this.#deadlines.need(pending.deadline);
    if (signal) {
      pending.onAbort = () => this.#abandon(pending, new ReconSyncError('CANCELLED', `${method} cancelled`));
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    this.#pending.set(id, pending);
    if (!send({ type: 'req', id, method, params: checked.data, timeoutMs })) {
      this.#settle(id, new ReconSyncError('AGENT_OFFLINE', 'peer is not connected'));
    }
    return promise;
  }

  /** Feed an incoming req/res/cancel frame. */
  handle(frame: RpcFrame): void {
    if (frame.type === 'res') {
      if (frame.ok) this.#settle(frame.id, undefined, frame.result);
      else this.#settle(frame.id, ReconSyncError.from(frame.error));
    } else if (frame.type === 'cancel') {
      this.#running.get(frame.id)?.abort(new ReconSyncError('CANCELLED', 'cancelled by caller'));
    } else {
      this.#serve(frame);
    }
  }

  /** The link dropped: every call in flight fails with DISCONNECTED; running handlers keep going. */
  disconnect(reason = 'link lost during the call'): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, new ReconSyncError('DISCONNECTED', reason));
  }

  /**
   * Aborts every running handler and resolves once each has finished, closing
   * nothing: an owner whose handlers record their outcome on abort (the agent's
   * backups, into its outbox) calls this before it closes what they write to.
   */
  async abortRunning(reason = 'shutting down'): Promise<void> {
    const ids = [...this.#running.keys()];
    for (const ctrl of this.#running.values()) ctrl.abort(new ReconSyncError('CANCELLED', reason));
    await Promise.allSettled(ids.map((id) => this.#seen.get(id)));
  }

  /** Stop everything: pending calls fail and running handlers are aborted. */
  close(): void {
    this.disconnect('peer closed');
    for (const ctrl of this.#running.values()) ctrl.abort(new ReconSyncError('CANCELLED', 'shutting down'));
    this.#send = undefined;
    this.#deadlines.stop();
  }

  /** The deadline `at` passed: fail every call that is due, then watch the next deadline. */
  #expireDue(at: number): void {
    const now = Math.max(this.#clock.now(), at);
    const due: PendingCall[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.#pending.values()) {
      if (p.deadline <= now) due.push(p);
      else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#deadlines.need(next);
    for (const p of due) this.#abandon(p, new ReconSyncError('TIMEOUT', `${p.method} got no answer within ${p.timeoutMs} ms`));
  }

  /** Timeout or caller abort: fail the call and tell the peer to stop working on it. */
  #abandon(pending: PendingCall, err: ReconSyncError): void {
    if (this.#pending.get(pending.id) !== pending) return;
    this.#settle(pending.id, err);
    this.#send?.({ type: 'cancel', id: pending.id });
  }

  #settle(id: string, err: ReconSyncError | undefined, raw?: unknown): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#deadlines.idle();
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    let result: unknown;
    if (!err) {
      // The result is validated once, here, before the caller sees it.
      const checked = safeParse(pending.result, raw);
      if (checked.success) result = checked.data;
      else err = new ReconSyncError('INTERNAL', `${pending.method}: peer sent a malformed result (${firstIssue(checked.error)})`);
    }
    this.#opts.onCallSettled?.(pending.method, err ? err.code : 'ok', this.#clock.now() - pending.started);
    if (err) pending.reject(err);
    else pending.resolve(result);
  }

  #serve(req: Req): void {
    const seen = this.#seen.get(req.id);
    if (seen) {
      // Already executed (or running): the same answer again, on whatever link is current.
      void seen.then(this.#reply);
      return;
    }
    this.#seen.set(req.id, this.#execute(req));
    // Forget the oldest id once over the limit: a ring of ids in arrival order, grown on demand (the hub
    // side of most sessions serves few requests), avoids an iterator per request.
    if (this.#seenOrder.length < this.#dedupeSize) {
      this.#seenOrder.push(req.id);
    } else {
      this.#seen.delete(this.#seenOrder[this.#seenNext]!);
      this.#seenOrder[this.#seenNext] = req.id;
      this.#seenNext = (this.#seenNext + 1) % this.#dedupeSize;
    }
  }

  readonly #reply = (res: Res): Res => {
    this.#send?.(res);
    return res;
  };

  /**
   * Runs a request and sends its answer as soon as it is known (on whatever
   * link is current then: a reply computed across a reconnect still
   * arrives); the promise is kept for de-duplication.
   */
  async #execute(req: Req): Promise<Res> {
    const spec = Object.hasOwn(this.#opts.incoming, req.method) ? this.#opts.incoming[req.method] : undefined;
    const handler = spec ? this.#opts.handlers[req.method as keyof In] : undefined;
    if (!spec || !handler) {
      return this.#reply({ type: 'res', id: req.id, ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method ${req.method.slice(0, 64)}`, retryable: false } });
    }
    const params = safeParse(spec.params, req.params);
    if (!params.success) {
      return this.#reply({ type: 'res', id: req.id, ok: false, error: { code: 'INVALID_PARAMS', message: `${req.method}: ${firstIssue(params.error)}`, retryable: false } });
    }
    const running = new RunningCall(req.id);
    this.#running.set(req.id, running);
    let res: Res;
    try {
      const result = await handler(params.data as z.output<In[keyof In]['params']>, running);
      res = { type: 'res', id: req.id, ok: true, result };
    } catch (err) {
      res = { type: 'res', id: req.id, ok: false, error: toRpcError(err) };
    } finally {
      this.#running.delete(req.id);
    }
    return this.#reply(res);
  }
}
