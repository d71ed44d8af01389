import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The file holding the master key that wraps a database's data key.
///
/// One line, `bedside-master-key-v1:` and 32 random bytes in base64, in a file only its owner can read.
/// In the data directory by default, made at the first start (with a warning: a key next to the data it
/// protects protects nothing against whoever takes the whole directory); a deployment keeps it elsewhere
/// (another disk, a secrets mount) and names it with `--master-key-file`.
public struct MasterKeyFile: Sendable {
    static let label = "bedside-master-key-v1:"

    public let path: String

    /// A key file at `path`; when a new database needs a key and there is none, it is made there.
    public init(path: String) {
        self.path = path
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// The key in the file, after checking that only its owner can read it.
    public func read() throws(StoreEncryptionError) -> SymmetricKey {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw .keyFileUnreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw .keyFileUnreadable(path: path, reason: "it is not a regular file")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw .keyFileNotPrivate(path: path, mode: String(status.st_mode & 0o777, radix: 8))
        }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0, count < buffer.count else { throw .keyFileMalformed(path: path) }
        return try Self.parse(buffer[..<count], path: path)
    }

    static func parse(_ bytes: ArraySlice<UInt8>, path: String) throws(StoreEncryptionError) -> SymmetricKey {
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(label), let key = Data(base64Encoded: String(text.dropFirst(label.count))), key.count == 32 else {
            throw .keyFileMalformed(path: path)
        }
        return SymmetricKey(data: key)
    }

    /// Makes a new random key in a new file (0600; never over an existing file or through a symlink),
    /// written and flushed to disk before it is used for anything.
    public func create() throws(StoreEncryptionError) -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        let line = Self.label + key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        do {
            let file = try BackupFileHandle.createExclusive(path, mode: 0o600)
            do {
                try file.write(Array(line.utf8))
                try file.sync()
                file.close()
            } catch {
                file.close()
                unlink(path)
                throw error
            }
        } catch let error as BackupError where error.kind == .exists {
            throw .keyFileExists(path: path)
        } catch {
            throw .keyFileUnreadable(path: path, reason: "it could not be written")
        }
        BackupPaths.syncDirectory(BackupPaths.parent(of: path))
        return key
    }

    /// A short public name of a key (16 hex digits of a hash), to tell keys apart in messages.
    public static func fingerprint(_ key: SymmetricKey) -> String {
        let digest = key.withUnsafeBytes { bytes in SHA256.hash(data: Array("bedside master key fingerprint".utf8) + Array(bytes)) }
        return digest.prefix(8).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}

/// How a store keeps its data at rest.
public enum StoreEncryption: Sendable {
    /// Sealed under a data key wrapped by the master key in this file (always, in the server).
    case masterKey(MasterKeyFile)
    /// Resource bodies and personal fields in clear, for `bedside-bench server`'s baseline only, which
    /// measures what encryption costs against it in the same run. Refused on an encrypted database.
    case plaintextBodiesForBenchmark
}
