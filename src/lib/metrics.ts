import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's Prometheus metrics. Each process (api or worker) counts what it does itself; Prometheus scrapes every
 * process and sums. Labels are small fixed sets (outcomes, status codes, operation types), never ids or names.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "signalpost_" });
// prom-client also adds three gauges named `..._total`, a suffix Prometheus reserves for counters (`promtool check
// metrics` refuses them). Each only sums its labelled gauge (`signalpost_nodejs_active_handles{type}` and so on), so
// they go: `sum(signalpost_nodejs_active_handles)` gives the same number.
for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"])
  registry.removeSingleMetric(`signalpost_${name}`);

export const deliveriesTotal = new Counter({
  name: "signalpost_deliveries_total",
  help: "Delivery attempts by outcome: succeeded, retry_scheduled, dead, manual_failed, test.",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const attemptDuration = new Histogram({
  name: "signalpost_attempt_duration_seconds",
  help: "Time from sending a delivery to the receiver's answer (or the error).",
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const inboundRequestsTotal = new Counter({
  name: "signalpost_inbound_requests_total",
  help: "Requests to agents' webhook URLs by result: accepted, or the refusal's code.",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const executionsTotal = new Counter({
  name: "signalpost_executions_total",
  help: "Agent execution status changes: running, succeeded, queued (for a retry), failed.",
  labelNames: ["status"] as const,
  registers: [registry],
});

/**
 * Subscription events sent, by whether the result was executed for that subscriber ("executed") or shared with one
 * executed for another subscriber of the same audience ("shared"; see src/graphql/shared-subscription-execution.ts).
 */
export const subscriptionResultsTotal = new Counter({
  name: "signalpost_subscription_results_total",
  help: "Subscription event results by how they were made: executed for the subscriber, or shared with another's.",
  labelNames: ["made"] as const,
  registers: [registry],
});

/** Counters of running subscriptions (one per WebSocket server), summed when scraped. */
const subscriptionCounters = new Set<() => number>();

export function countSubscriptions(counter: () => number): () => void {
  subscriptionCounters.add(counter);
  return () => subscriptionCounters.delete(counter);
}

new Gauge({
  name: "signalpost_subscriptions_open",
  help: "GraphQL operations running on this process's WebSocket connections (subscriptions, mostly).",
  registers: [registry],
  collect() {
    let open = 0;
    for (const counter of subscriptionCounters) open += counter();
    this.set(open);
  },
});

export const graphqlDuration = new Histogram({
  name: "signalpost_graphql_request_duration_seconds",
  help: "GraphQL queries and mutations, execution time by operation type and whether the result has errors.",
  labelNames: ["operation", "errors"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

/**
 * Gauges read from the database when scraped (the queue is shared by all workers, so any process can report it).
 * `read` is installed at start-up, once the pool exists, into this process's registry (metrics are per process).
 */
export function registerQueueGauges(read: () => Promise<{ depth: number; oldestAgeSeconds: number }>): void {
  let last: Promise<{ depth: number; oldestAgeSeconds: number }> | undefined;
  // Both gauges come from one query per scrape.
  const sample = () => {
    last ??= read().finally(() => setTimeout(() => (last = undefined), 500).unref());
    return last;
  };
  registry.removeSingleMetric("signalpost_queue_depth");
  registry.removeSingleMetric("signalpost_queue_oldest_pending_age_seconds");
  new Gauge({
    name: "signalpost_queue_depth",
    help: "Deliveries due now and not yet fetched by a worker (in due pg-boss delivery jobs).",
    registers: [registry],
    async collect() {
      this.set((await sample()).depth);
    },
  });
  new Gauge({
    name: "signalpost_queue_oldest_pending_age_seconds",
    help: "How long the oldest due delivery has been waiting.",
    registers: [registry],
    async collect() {
      this.set((await sample()).oldestAgeSeconds);
    },
  });
}
