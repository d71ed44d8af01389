import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `bedside-server rotate-key`: the data key wrapped under a new master key, the data untouched.
public enum MasterKeyRotation {
    public struct Outcome: Sendable {
        /// Where the new master key is.
        public var path: String
        public var fingerprint: String
        /// Whether the old key's file was replaced in place (otherwise it is still there, to be destroyed).
        public var replacedInPlace: Bool
    }

    /// Rotates `store`'s master key from the key in `current` (which opened it) to a new one: in
    /// `newPath` (made when missing, an existing key used as it is), or in place of `current` when nil.
    ///
    /// In place, the new key is first written to `<current>.new`, then the data key is re-wrapped, then
    /// the new file is renamed over the old: a stop in between leaves `<current>.new`, which the next
    /// start notices and finishes with (`DataKeyRecord.keys`). The rotation is audited.
    public static func rotate(
        store: SQLiteServerStore, current: MasterKeyFile, to newPath: String?, at time: Int64
    ) throws -> Outcome {
        let oldMaster = try current.read()
        let staged = MasterKeyFile(path: newPath ?? current.stagedPath)
        if newPath == nil && staged.exists {
            throw StoreEncryptionError.keyFileExists(path: staged.path)
        }
        let newMaster = staged.exists ? try staged.read() : try staged.create()
        let fingerprint = MasterKeyFile.fingerprint(newMaster)
        guard fingerprint != MasterKeyFile.fingerprint(oldMaster) else { throw StoreEncryptionError.sameKey(path: staged.path) }
        try store.rewrapDataKey(from: oldMaster, to: newMaster, at: time)
        if newPath == nil {
            guard rename(staged.path, current.path) == 0 else {
                throw StoreEncryptionError.keyFileUnreadable(path: staged.path, reason: "it could not be renamed to \(current.path)")
            }
            BackupPaths.syncDirectory(BackupPaths.parent(of: current.path))
        }
        try store.writeNow { db in
            try db.append([
                AuditEvent(
                    at: time, actorID: "command-line", actorRole: "admin", action: "rotate-key", outcome: "success", httpStatus: 0,
                    remoteAddress: "local", request: nil)
            ])
        }
        return Outcome(path: newPath ?? current.path, fingerprint: fingerprint, replacedInPlace: newPath == nil)
    }
}

extension MasterKeyFile {
    /// Where an in-place rotation writes the new key before it replaces this one.
    var stagedPath: String { path + ".new" }

    /// The data key of `stored` when an in-place rotation stopped after re-wrapping and before its
    /// rename: the staged key opens it, and the rename is finished now.
    func finishInterruptedRotation(of stored: DataKeyRecord) -> SymmetricKey? {
        let staged = MasterKeyFile(path: stagedPath)
        guard staged.exists, let master = try? staged.read(), let dataKey = StoreKeys.unwrap(stored.wrapped, with: master),
            rename(staged.path, path) == 0
        else { return nil }
        BackupPaths.syncDirectory(BackupPaths.parent(of: path))
        return dataKey
    }
}
