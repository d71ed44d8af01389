import Foundation

/// Private files and their destruction: directories 0700, files 0600, and crypto-shredding at logout.
public enum SecureFiles {
    /// Creates `directory` (and parents) private to this user, and tightens it if it already exists.
    public static func makePrivateDirectory(_ directory: URL) throws(VaultError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
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

    /// Overwrites a file with random bytes, flushes it to disk, then deletes it.
    ///
    /// On flash storage and copy-on-write file systems an overwrite may land elsewhere; what makes the
    /// data unreadable is that the wrapped key is destroyed, so the sealed database is only ciphertext.
    public static func shred(_ url: URL) throws(VaultError) {
        let descriptor = open(url.path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        if descriptor >= 0 {
            var size = stat()
            fstat(descriptor, &size)
            var remaining = Int(size.st_size)
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
            close(descriptor)
        }
        if unlink(url.path) != 0 && errno != ENOENT {
            throw .system("Cannot delete \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Shreds every file below `directory` and removes the subdirectories, leaving `directory` itself empty.
    public static func emptyDirectory(_ directory: URL, shredding: Bool = true) throws(VaultError) {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            return
        }
        for name in entries {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                unlink(url.path)  // a dangling link
                continue
            }
            if isDirectory.boolValue {
                try emptyDirectory(url, shredding: shredding)
                rmdir(url.path)
            } else if shredding {
                try shred(url)
            } else {
                unlink(url.path)
            }
        }
    }
}
