/**
 * Where the machine's CPU went during a benchmark phase, read from /proc (Linux; elsewhere the figures are absent):
 * the Signalpost processes, the PostgreSQL processes under them (the embedded server is their child), the bench
 * itself and the receiver. Shares are of the whole machine, so four parts summing to ~100% mean it was saturated.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * utime + stime of a process, the same for its children that have ended (the kernel adds them to the parent when it
 * reaps them), and its parent; undefined when it is gone (or there is no /proc).
 */
function stat(pid: number): { ticks: number; endedChildrenTicks: number; parent: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses; the fields after its closing parenthesis do not.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return {
      parent: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
      endedChildrenTicks: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

function descendantsOf(roots: number[]): number[] {
  let pids: number[];
  try {
    pids = readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
  const parents = new Map(pids.map((pid) => [pid, stat(pid)?.parent]));
  const found: number[] = [];
  const frontier = [...roots];
  while (frontier.length) {
    const parent = frontier.pop() as number;
    for (const [pid, of] of parents) {
      if (of === parent) {
        found.push(pid);
        frontier.push(pid);
      }
    }
  }
  return found;
}

export interface CpuShares {
  signalpost: number;
  postgres: number;
  bench: number;
  receiver: number;
}

/**
 * The Signalpost main thread (the event loop; the first process's, in --split the API's): the share of the phase it
 * ran, and the share it was ready to run but waited for a core. Together near 100% mean it was the bottleneck, even
 * when the machine's CPU shares add up to less.
 */
export interface MainThread {
  running: number;
  waitingForCpu: number;
}

/** Nanoseconds run and waited on a run queue by a thread (the main thread's id is the process id). */
function schedstat(pid: number): [number, number] {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(" ").map(Number);
    return [run ?? 0, wait ?? 0];
  } catch {
    return [0, 0];
  }
}

/** CPU seconds so far of each part; diff two readings with {@link shares}. */
export function readCpu(parts: { signalpost: number[]; receiver: number }): {
  at: number;
  seconds: CpuShares;
  mainThreadNs: [number, number];
} {
  const seconds = (pid: number) => (stat(pid)?.ticks ?? 0) / TICKS_PER_SECOND;
  // Backends and autovacuum workers come and go: a live one counts itself, an ended one is in the postmaster's
  // count of its ended children, so the total only grows.
  const postgres = descendantsOf(parts.signalpost).reduce((total, pid) => {
    const counted = stat(pid);
    return total + (counted ? (counted.ticks + counted.endedChildrenTicks) / TICKS_PER_SECOND : 0);
  }, 0);
  const own = process.cpuUsage();
  return {
    mainThreadNs: schedstat(parts.signalpost[0] as number),
    at: performance.now(),
    seconds: {
      signalpost: parts.signalpost.reduce((total, pid) => total + seconds(pid), 0),
      postgres,
      bench: (own.user + own.system) / 1e6,
      receiver: seconds(parts.receiver),
    },
  };
}

/** Each part's share of the machine (all cores) between two readings, in percent; and the main thread's. */
export function shares(
  before: ReturnType<typeof readCpu>,
  after: ReturnType<typeof readCpu>,
): (CpuShares & { mainThread: MainThread }) | undefined {
  const elapsedNs = (after.at - before.at) * 1e6;
  const capacity = (elapsedNs / 1e9) * os.cpus().length;
  if (capacity <= 0 || after.seconds.signalpost === 0) return undefined;
  const share = (part: keyof CpuShares) => Math.round(((after.seconds[part] - before.seconds[part]) / capacity) * 100);
  const ofPhase = (index: 0 | 1) =>
    Math.round(((after.mainThreadNs[index] - before.mainThreadNs[index]) / elapsedNs) * 100);
  return {
    signalpost: share("signalpost"),
    postgres: share("postgres"),
    bench: share("bench"),
    receiver: share("receiver"),
    mainThread: { running: ofPhase(0), waitingForCpu: ofPhase(1) },
  };
}
