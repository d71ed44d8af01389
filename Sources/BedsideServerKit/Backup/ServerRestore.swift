import BedsideCore
import Foundation
import GRDB

/// A backup restored.
public struct RestoreReport: Sendable {
    public let dataDirectory: String
    public let contents: BackupContents
    public let seconds: Double
}

extension ServerBackup {
    /// Restores `input` into `dataDirectory`, which must not exist or be empty. Everything is decrypted
    /// into a private directory beside the target, each part checked; only when all of it opened, the
    /// manifest came first, and SQLite's integrity check passes on the database, is that directory renamed
    /// to the target. On any failure nothing is left behind and the target is as it was.
    public static func restore(input: String, key: BackupSecretKey, into dataDirectory: URL) throws -> RestoreReport {
        let started = Date()
        let target = dataDirectory.standardizedFileURL.path
        try checkTargetIsFree(target)
        let parent = BackupPaths.parent(of: target)
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BackupError(.io, "Cannot create the folder \(parent) for the restored data directory.")
        }
        let handle = try BackupFileHandle.openForReading(input, what: "the backup")
        let opener = try BackupOpener(input: handle, key: key)
        let staging = try BackupPaths.makePrivateDirectory(in: parent, prefix: "." + (target as NSString).lastPathComponent + ".restore-")
        do {
            let contents = try unpack(BackupArchiveReader(opener: opener, name: input), into: staging, name: input)
            try checkDatabase(staging + "/" + BackupEntryName.databaseName, name: input)
            BackupPaths.syncDirectory(staging)
            if rename(staging, target) != 0 {
                let code = errno
                if code == ENOTEMPTY || code == EEXIST || code == ENOTDIR {
                    throw BackupError(.exists, "\(target) was filled while restoring; nothing was restored (restore into a new directory).")
                }
                throw BackupError.io("move the restored data into", target, errno: code)
            }
            _ = chmod(target, 0o700)
            BackupPaths.syncDirectory(parent)
            return RestoreReport(dataDirectory: target, contents: contents, seconds: Date().timeIntervalSince(started))
        } catch {
            BackupPaths.removeTree(staging)
            throw error
        }
    }

    /// The target must be new: missing, or an empty directory.
    static func checkTargetIsFree(_ target: String) throws {
        var status = stat()
        guard lstat(target, &status) == 0 else { return }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            throw BackupError(.exists, "\(target) exists and is not a directory; restore into a new data directory.")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? ["?"]
        guard entries.isEmpty else {
            throw BackupError(.exists, "\(target) already holds files; restore into a new (or empty) data directory. Nothing was changed.")
        }
    }

    /// Writes every entry into `staging`; the stream must end with the end mark, the last chunk and the file.
    static func unpack(_ reader: BackupArchiveReader, into staging: String, name: String) throws -> BackupContents {
        guard let first = try reader.next(), first.name == .manifest else {
            throw BackupError(.damaged, "\(name) does not start with its manifest; it was not made by bedside-server backup.")
        }
        let manifestBytes = try reader.contents(of: first, limit: BackupArchive.maximumManifestLength)
        guard let manifest = JSONParser.parseOrNil(manifestBytes), var contents = BackupContents(manifest: manifest) else {
            throw BackupError(.damaged, "\(name) has a manifest this bedside-server cannot read.")
        }
        var written: [String] = []
        while let entry = try reader.next() {
            let path = entry.name.relativePath
            guard !written.contains(path), entry.name != .manifest else {
                throw BackupError(.damaged, "\(name) holds \(path) twice; nothing was restored.")
            }
            switch (entry.name, entry.kind) {
            case (.tlsDirectory, .directory):
                guard mkdir(staging + "/" + path, 0o700) == 0 else { throw BackupError.io("create", staging + "/" + path) }
            case (.tlsFile, .file):
                guard written.contains(BackupEntryName.tlsName) else {
                    throw BackupError(.damaged, "\(name) holds \(path) before its directory; nothing was restored.")
                }
                // Certificates keep their 0644; keys, and anything else, are 0600. Never executable.
                let mode: mode_t = path.hasSuffix(".key") ? 0o600 : (entry.mode & 0o644) | 0o600
                try write(entry, from: reader, to: staging + "/" + path, mode: mode)
            case (.database, .file), (.masterKey, .file):
                try write(entry, from: reader, to: staging + "/" + path, mode: 0o600)
            default:
                throw BackupError(.damaged, "\(name) holds \(path) in a form a backup never has; nothing was restored.")
            }
            written.append(path)
        }
        guard try reader.opener.read(upTo: 1).isEmpty else {
            throw BackupError(.damaged, "\(name) was altered: it holds data after its end mark.")
        }
        guard written.contains(BackupEntryName.databaseName) else {
            throw BackupError(.damaged, "\(name) holds no database; nothing was restored.")
        }
        if BackupPaths.isDirectory(staging + "/" + BackupEntryName.tlsName) {
            BackupPaths.syncDirectory(staging + "/" + BackupEntryName.tlsName)
        }
        contents.files = written.filter { $0 != BackupEntryName.tlsName }
        return contents
    }

    private static func write(_ entry: BackupArchiveEntry, from reader: BackupArchiveReader, to path: String, mode: mode_t) throws {
        let output = try BackupFileHandle.createExclusive(path, mode: mode)
        try reader.copyContents(of: entry, to: output)
        try output.sync()
        output.close()
    }

    /// SQLite's full integrity check of the restored database, before it becomes visible.
    static func checkDatabase(_ path: String, name: String) throws {
        let result: [String]
        do {
            let database = try DatabaseQueue(path: path)
            result = try database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            try database.close()
        } catch {
            throw BackupError(.damaged, "The database in \(name) cannot be opened (\(error)); nothing was restored.")
        }
        guard result == ["ok"] else {
            throw BackupError(.damaged, "The database in \(name) fails SQLite's integrity check (\(result.prefix(3).joined(separator: "; "))); nothing was restored.")
        }
    }
}
