import Foundation

/// Starts child processes one at a time across the whole test run, while the test process holds few
/// enough descriptors for Foundation to list them safely.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3.1) copies each `/proc/self/fd` entry as a whole
/// 256-byte name; once the process holds more descriptors than its 32 KiB directory buffer lists (about
/// 1,360) the copy of the last entry can run off the buffer and crash (memcpy, SIGSEGV; fixed upstream in
/// swift-corelibs-foundation #5472). `LiveServerSlots` keeps the count well below that; this waits, a
/// bounded time, for a burst to pass before launching.
public enum ProcessLaunch {
    private static let lock = NSLock()
    static let safeDescriptorCount = 1_000

    public static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(30)
        while openDescriptorCount() > safeDescriptorCount, Date() < deadline {
            usleep(20_000)
        }
        try process.run()
    }

    /// Counts the entries of /proc/self/fd without reading their names (the names are what overflows).
    static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count
    }
}
