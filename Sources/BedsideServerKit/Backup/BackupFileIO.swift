import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file descriptor the backup code reads or writes with plain system calls: exclusive creation with a
/// mode (never over an existing file, never through a link), whole writes, bounded reads, fsync.
final class BackupFileHandle {
    let descriptor: Int32
    let path: String
    private var isOpen = true

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close() }

    /// Creates `path` for writing with `mode`; fails if anything (a file, a link) is already there.
    static func createExclusive(_ path: String, mode: mode_t = 0o600) throws -> BackupFileHandle {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw BackupError(.exists, "\(path) already exists; it is never overwritten.") }
            throw BackupError.io("create", path)
        }
        // The umask may have taken bits away; the mode asked for is the mode wanted.
        _ = fchmod(descriptor, mode)
        return BackupFileHandle(descriptor: descriptor, path: path)
    }

    /// Opens a regular file for reading; `followLinks: false` refuses a symbolic link.
    /// `what` names the file in a message ("the backup", "the key file").
    static func openForReading(_ path: String, what: String = "", followLinks: Bool = true) throws -> BackupFileHandle {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW))
        guard descriptor >= 0 else { throw BackupError.io(what.isEmpty ? "open" : "open \(what)", path) }
        let handle = BackupFileHandle(descriptor: descriptor, path: path)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw BackupError.io("read", path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw BackupError(.io, "\(path) is not a regular file.") }
        return handle
    }

    /// The file's size and permission bits.
    func status() throws -> (size: UInt64, mode: mode_t) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw BackupError.io("read", path) }
        return (UInt64(clamping: status.st_size), status.st_mode & 0o7777)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw BackupError.io("write", path)
            }
            offset += written
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Reads up to `count` bytes, fewer only at the end of the file.
    func read(upTo count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress.map { $0 + filled }, count - filled)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw BackupError.io("read", path)
            }
            if got == 0 { break }
            filled += got
        }
        bytes.removeLast(count - filled)
        return bytes
    }

    func sync() throws {
        guard fsync(descriptor) == 0 else { throw BackupError.io("write", path) }
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        _ = Glibc.close(descriptor)
    }
}

/// Directory and name operations of the backup code.
enum BackupPaths {
    /// Reads a small file (a key), refusing one larger than `limit` bytes: a key file is a few lines.
    static func readSmallFile(_ path: String, what: String, limit: Int = 4096) throws -> [UInt8] {
        let handle = try BackupFileHandle.openForReading(path, what: what)
        let bytes = try handle.read(upTo: limit + 1)
        guard bytes.count <= limit else { throw BackupError(.key, "\(path) is too large to be a backup key file.") }
        return bytes
    }

    /// Makes a new private (0700) directory `<parent>/<prefix>XXXXXX` and returns its path.
    static func makePrivateDirectory(in parent: String, prefix: String) throws -> String {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw BackupError.io("create a private directory in", parent) }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = chmod(path, 0o700)
        return path
    }

    /// Removes a directory this code made, with what is in it (files and directories only, no links followed).
    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Makes what was written to `directory` survive a power cut (the names, not only the contents).
    static func syncDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = Glibc.close(descriptor)
    }

    /// Gives the finished file `temporary` the name `final` without ever replacing a file of that name.
    static func publish(_ temporary: String, as final: String) throws {
        if link(temporary, final) == 0 {
            unlink(temporary)
        } else if errno == EEXIST {
            unlink(temporary)
            throw BackupError(.exists, "\(final) already exists; it is never overwritten.")
        } else {
            // A file system without hard links (some network shares): check, then rename.
            guard access(final, F_OK) != 0 else {
                unlink(temporary)
                throw BackupError(.exists, "\(final) already exists; it is never overwritten.")
            }
            guard rename(temporary, final) == 0 else {
                let code = errno
                unlink(temporary)
                throw BackupError.io("write", final, errno: code)
            }
        }
        syncDirectory(parent(of: final))
    }

    /// The directory a path is in ("." for a bare name).
    static func parent(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    /// Whether `path` is a regular file (not a link, not a directory).
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether `path` is a directory (not a link to one).
    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }
}
