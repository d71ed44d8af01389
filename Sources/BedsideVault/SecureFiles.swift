import Foundation

/// Private files and their destruction: directories 0700, files 0600, and crypto-shredding at logout.
public enum SecureFiles {
    /// Creates `directory` (and parents) private to this user, and tightens it if it already exists.
    public static func makePrivateDirectory(_ directory: URL) throws(VaultError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Tightened, never loosened: a directory made unreadable on purpose stays so (and then fails clearly).
            var info = stat()
            if stat(directory.path, &info) == 0, info.st_mode & 0o077 != 0 {
                try FileManager.default.setAttributes([.posixPermissions: Int(info.st_mode & 0o700)], ofItemAtPath: directory.path)
            }
        } catch {
            throw .system("Cannot create the private directory \(directory.path): \(error.localizedDescription)")
        }
    }

    /// Writes a file atomically (temporary file, fsync, rename) with mode 0600.
    public static func writePrivate(_ data: Data, to url: URL) throws(VaultError) {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .system("Cannot write \(url.path): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == data.count, synced, rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw .system("Cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Overwrites a file with random bytes, flushes it to disk, then deletes it. A link is removed as a link.
    ///
    /// On flash storage and copy-on-write file systems an overwrite may land elsewhere; what makes the
    /// data unreadable is that the wrapped key is destroyed, so the sealed database is only ciphertext.
    public static func shred(_ url: URL) throws(VaultError) {
        let descriptor = open(url.path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        if descriptor >= 0 {
            overwrite(descriptor)
            close(descriptor)
        }
        if unlink(url.path) != 0 && errno != ENOENT {
            throw .system("Cannot delete \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Overwrites the whole of an open regular file with random bytes and flushes it to disk.
    static func overwrite(_ descriptor: Int32) {
        var size = stat()
        guard fstat(descriptor, &size) == 0, (size.st_mode & S_IFMT) == S_IFREG else { return }
        var remaining = Int(clamping: size.st_size)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var generator = SystemRandomNumberGenerator()
        while remaining > 0 {
            let count = min(remaining, chunk.count)
            chunk.withUnsafeMutableBytes { buffer in
                for offset in stride(from: 0, to: count, by: 8) {
                    withUnsafeBytes(of: generator.next()) { random in
                        for byte in 0..<min(8, count - offset) { buffer[offset + byte] = random[byte] }
                    }
                }
            }
            let written = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, count) }
            if written <= 0 { break }
            remaining -= written
        }
        fsync(descriptor)
    }

    /// Shreds every file below `directory` and removes the subdirectories, leaving `directory` itself empty.
    ///
    /// Only for a directory this process made itself (the demo's temporary one): a data directory is emptied
    /// with `OwnedDirectory.destroyContents`, which removes Bedside's own files alone. Links are removed as
    /// links and never followed, and a directory that cannot be read is an error, not a silent success.
    public static func emptyDirectory(_ directory: URL, shredding: Bool = true) throws(VaultError) {
        for name in try OwnedDirectory.entries(directory) {
            let url = directory.appendingPathComponent(name)
            var info = stat()
            guard lstat(url.path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try emptyDirectory(url, shredding: shredding)
                rmdir(url.path)
            case S_IFREG where shredding:
                try shred(url)
            default:
                unlink(url.path)  // a link (never followed), or a file not worth overwriting
            }
        }
    }
}
