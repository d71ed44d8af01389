import Foundation

/// Starts child processes one at a time across the whole test run.
///
/// Foundation's `Process.run()` on Linux crashed once in CI (a bad read inside its memcpy) while several
/// test threads launched binaries at the same moment; launching is quick, so tests take turns.
public enum ProcessLaunch {
    private static let lock = NSLock()

    public static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }
}
