import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/** What {@link guardChild} answers: `disarm()` once the child is stopped on purpose (safe to call more than once). */
export interface ChildGuard {
  disarm(): void;
}

/** Guarded children of this process that have not exited yet; killed by the 'exit' hook. */
const live = new Map<ChildProcess, ChildGuard>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' covers normal ends and process.exit(); deaths by a signal are covered by each child's guard process.
  process.on('exit', () => {
    for (const [child, guard] of live) {
      guard.disarm(); // the pipe write completes synchronously; the guard then exits without a kill of its own
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Makes sure `child` does not outlive this process, however this process ends. A normal exit (or process.exit())
 * SIGKILLs it from an 'exit' handler. A death by a signal, SIGKILL or a crash — the test runner killing a file that
 * timed out — runs no handler, so a small `sh` guard per child does it: it blocks reading a pipe whose only writer is
 * this process, so the read returns EOF only when this process is gone; it then sends SIGTERM, and SIGKILL 5 s later.
 *
 * Without it, a gateway or signer a killed test file had spawned lives on, holding the runner's stderr open, and the
 * run hangs instead of ending red. Call `disarm()` before stopping the child on purpose; a child that exits on its
 * own is forgotten by itself.
 */
export function guardChild(child: ChildProcess, name = 'clawd402-child-guard'): ChildGuard {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return { disarm() {} };
  installExitHook();
  const guard = startGuard(pid, name);
  live.set(child, guard);
  child.once('exit', () => {
    live.delete(child);
    guard.disarm();
  });
  return guard;
}

function startGuard(pid: number, name: string): ChildGuard {
  if (process.platform === 'win32') return { disarm() {} };
  const script =
    'if read -r _; then exit 0; fi; kill -TERM "$1" 2>/dev/null || exit 0; ' +
    'for _ in 1 2 3 4 5 6 7 8 9 10; do sleep 0.5; kill -0 "$1" 2>/dev/null || exit 0; ' +
    // a zombie (dead, not yet reaped by whoever inherited it) needs nothing more
    'case $(cat "/proc/$1/stat" 2>/dev/null) in *") Z "*) exit 0;; esac; done; kill -KILL "$1" 2>/dev/null';
  const guard = spawn('/bin/sh', ['-c', script, name, String(pid)], { stdio: ['pipe', 'ignore', 'ignore'] });
  guard.on('error', () => {}); // no /bin/sh: the 'exit' hook still covers normal exits
  guard.stdin?.on('error', () => {});
  guard.unref();
  (guard.stdin as Socket | null)?.unref();
  let armed = true;
  return {
    disarm() {
      if (!armed) return;
      armed = false;
      guard.stdin?.end('stop\n');
    },
  };
}
