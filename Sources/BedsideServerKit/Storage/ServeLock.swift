import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One `serve` per SQLite data directory: an exclusive `flock` on `<data-dir>/serve.lock`, held for the
/// life of the process. SQLite would keep its file consistent with two, but each would run the
/// scheduled jobs (exports, notifications, retention) as if it were alone: several instances need
/// PostgreSQL, where the jobs are shared out by advisory locks. The other subcommands (user add, audit
/// verify, backups) may run beside a serving server. The kernel releases the lock when the process
/// dies, even by kill -9, so it never goes stale.
///
/// (Written here rather than shared with the app's `DataDirectoryLock`: the server never depends on
/// the client's modules.)
public final class ServeLock: Sendable {
    public static let fileName = "serve.lock"
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Takes the lock, or fails saying which process serves the directory.
    public static func acquire(dataDirectory: URL) throws(ServeLockError) -> ServeLock {
        let path = dataDirectory.standardizedFileURL.appendingPathComponent(fileName).path
        // O_NOFOLLOW: a link planted in the lock's place is refused, never opened (or created) through.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw ServeLockError(message: "Cannot open the lock file \(path): \(String(cString: strerror(errno))).")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = buffer.withUnsafeMutableBufferPointer { pread(descriptor, $0.baseAddress, $0.count, 0) }
            close(descriptor)
            let holder = count > 0 ? Int32(String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) : nil
            throw ServeLockError(
                message: "Another bedside-server\(holder.map { " (process \($0))" } ?? "") is serving \(dataDirectory.path): stop it first. "
                    + "Several instances as one server need PostgreSQL (--database).")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBufferPointer { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return ServeLock(path: path, descriptor: descriptor)
    }
}

public struct ServeLockError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
