import Foundation

/// Starts child processes one at a time across the whole test run.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3.1) copies each `/proc/self/fd` entry as a whole
/// 256-byte name; once the process holds more descriptors than its 32 KiB directory buffer lists (about
/// 1,360) the copy of the last entry can run off the buffer and crash (memcpy, SIGSEGV; fixed upstream in
/// swift-corelibs-foundation #5472). `LiveServerSlots` keeps the count well below that (a whole run
/// peaks under 1,000). Launching never waits here: tests call it from the cooperative pool, and a wait
/// there (holding this lock) stalled every other test's servers once.
public enum ProcessLaunch {
    private static let lock = NSLock()

    public static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }
}
