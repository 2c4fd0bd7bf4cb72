/** The messages between the JSONata sandbox (jsonata-sandbox.ts) and its child processes. */

/** The limits an evaluation runs under inside the child (the heap limit is the child's own, set when it starts). */
export interface EvaluationLimits {
  /** JSONata's own time limit, checked at each step of the evaluation. */
  timeoutMs: number;
  /** JSONata's nesting limit (function calls in function calls). */
  stack: number;
  /** The largest result, in characters of JSON, sent back. */
  maxResultChars: number;
}

/** One evaluation: the expression and its input as JSON text (a string crosses the process boundary cheapest). */
export interface SandboxRequest {
  id: number;
  expression: string;
  input: string;
  limits: EvaluationLimits;
}

/** What the child found; `json` is undefined when the expression matched nothing. */
export type SandboxReply =
  | { id: number; ok: true; json: string | undefined }
  | {
      id: number;
      ok: false;
      code: "TRANSFORM_TIMEOUT" | "TRANSFORM_RESULT_TOO_LARGE" | "TRANSFORM_FAILED";
      message: string;
    };

/** The child's first message: it listens for requests from now on. */
export interface SandboxReady {
  ready: true;
}
