import BedsideVault
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One Bedside process per data directory: an exclusive `flock` on `<directory>/bedside.lock`, held for
/// the life of the process.
///
/// SQLite alone would keep the database file consistent, but not the account around it: a second
/// process could log in (emptying the directory) while the first is sending, or both could unlock
/// different vaults. The lock file is inside the directory (Bedside writes nothing beside it) and is
/// opened without following a link; logout removes it with the rest. The kernel releases the lock when
/// the process dies, even by kill -9, so it never goes stale.
public final class DataDirectoryLock: Sendable {
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

    /// Where the lock for `directory` lives.
    public static func lockPath(for directory: URL) -> String {
        directory.standardizedFileURL.appendingPathComponent(OwnedDirectory.lockName).path
    }

    /// Takes the lock, or says which process holds it.
    public static func acquire(for directory: URL) throws(StoreError) -> DataDirectoryLock {
        let path = lockPath(for: directory)
        // O_NOFOLLOW: a link planted in the lock's place is refused, never opened (or created) through.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw .database("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = readPID(descriptor)
            close(descriptor)
            throw .inUse(pid: holder, lockFile: path)
        }
        // Who holds it, for the message another process shows.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBufferPointer { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return DataDirectoryLock(path: path, descriptor: descriptor)
    }

    private static func readPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBufferPointer { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
