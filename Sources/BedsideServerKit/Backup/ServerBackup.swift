import BedsideCore
import Foundation
import GRDB

/// What a backup holds, as its manifest says and as a restore reports it.
public struct BackupContents: Sendable {
    public var createdAt: String
    public var serverVersion: String
    public var databaseBytes: UInt64
    /// Resources per type in the copied database (current versions), ordered by type.
    public var resourceCounts: [(type: String, count: Int)]
    public var accounts: Int?
    /// The entries besides the manifest: `bedside-server.sqlite`, `tls/…`, `master.key`.
    public var files: [String]

    /// "database 12.3 MiB; 1,204 Observation, 6 Patient …; tls/ (4 files); master.key".
    public var summary: String {
        var parts = ["database \(Self.size(databaseBytes))"]
        let counts = resourceCounts.map { "\($0.count) \($0.type)" }
        if !counts.isEmpty { parts.append(counts.joined(separator: ", ")) }
        if let accounts { parts.append("\(accounts) accounts") }
        let tls = files.filter { $0.hasPrefix("tls/") }.count
        if tls > 0 { parts.append("tls/ (\(tls) files)") }
        if files.contains(BackupEntryName.masterKeyName) { parts.append(BackupEntryName.masterKeyName) }
        return parts.joined(separator: "; ")
    }

    /// "12 KiB", "3.4 MiB".
    public static func size(_ bytes: UInt64) -> String {
        bytes < 1 << 20 ? "\(bytes / 1024 + (bytes % 1024 == 0 ? 0 : 1)) KiB" : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }

    var manifest: JSONValue {
        .object(JSONObject([
            ("format", "bedside-server-backup"),
            ("formatVersion", .number(Int(BackupContainer.formatVersion))),
            ("createdAt", .string(createdAt)),
            ("serverVersion", .string(serverVersion)),
            ("databaseBytes", .number(String(databaseBytes))),
            ("resources", .object(JSONObject(resourceCounts.map { ($0.type, JSONValue.number($0.count)) }))),
            ("accounts", accounts.map { .number($0) } ?? .null),
            ("files", .array(files.map { .string($0) })),
        ]))
    }

    init(createdAt: String, serverVersion: String, databaseBytes: UInt64, resourceCounts: [(type: String, count: Int)], accounts: Int?, files: [String]) {
        self.createdAt = createdAt
        self.serverVersion = serverVersion
        self.databaseBytes = databaseBytes
        self.resourceCounts = resourceCounts
        self.accounts = accounts
        self.files = files
    }

    /// Reads a manifest; nil when it is not one (the caller names the file).
    init?(manifest: JSONValue) {
        guard manifest["format"]?.stringValue == "bedside-server-backup", let createdAt = manifest["createdAt"]?.stringValue,
            let serverVersion = manifest["serverVersion"]?.stringValue,
            let bytes = manifest["databaseBytes"].flatMap({ value -> UInt64? in
                if case .number(let text) = value { return UInt64(text) }
                return nil
            }),
            let files = manifest["files"]?.arrayValue?.compactMap(\.stringValue)
        else { return nil }
        self.createdAt = createdAt
        self.serverVersion = serverVersion
        databaseBytes = bytes
        resourceCounts = (manifest["resources"]?.objectValue?.members ?? []).compactMap { member in
            member.value.intValue.map { (member.key, $0) }
        }
        accounts = manifest["accounts"]?.intValue
        self.files = files
    }
}

/// A backup written.
public struct BackupReport: Sendable {
    public let path: String
    public let bytes: UInt64
    public let contents: BackupContents
    public let recipientFingerprint: String
    public let seconds: Double
}

/// Backs a data directory up to one encrypted file, and restores such a file into a new data directory.
///
/// A backup holds a consistent copy of the database made with SQLite's online backup while the server
/// goes on serving and writing, the `tls/` directory, and `master.key` when the data directory has one.
/// It never holds `mail/` (the development mailbox) or `exports/` (Bulk Data files, made again on request).
public enum ServerBackup {
    static let snapshotPrefix = ".backup-snapshot-"

    /// Writes a backup of `dataDirectory` for `recipient` to `output`, which must not exist. The database
    /// copy is made in a private directory inside the data directory (where the data already lives, not
    /// in /tmp, which may be memory) and removed afterwards. `shouldStop` is asked between steps.
    public static func write(
        dataDirectory: URL, recipient: BackupRecipientKey, output: String, shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws -> BackupReport {
        try write(dataDirectory: dataDirectory, recipient: recipient, output: output, chunkSize: BackupContainer.defaultChunkSize, shouldStop: shouldStop)
    }

    /// `chunkSize`: tests make many small chunks to cut and reorder.
    static func write(
        dataDirectory: URL, recipient: BackupRecipientKey, output: String, chunkSize: Int, shouldStop: @escaping @Sendable () -> Bool
    ) throws -> BackupReport {
        let started = Date()
        let data = dataDirectory.path
        let databasePath = data + "/" + BackupEntryName.databaseName
        guard BackupPaths.isRegularFile(databasePath) else {
            throw BackupError(.source, "\(data) holds no Bedside server database (\(BackupEntryName.databaseName)); nothing was backed up.")
        }
        if FileManager.default.fileExists(atPath: output) || BackupPaths.isSymbolicLink(output) {
            throw BackupError(.exists, "\(output) already exists; a backup never overwrites a file.")
        }
        let outputDirectory = BackupPaths.parent(of: output)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: outputDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BackupError(.io, "The folder \(outputDirectory) for the backup does not exist.")
        }
        removeStaleSnapshots(in: data)
        let snapshotDirectory = try BackupPaths.makePrivateDirectory(in: data, prefix: "\(snapshotPrefix)\(getpid())-")
        defer { BackupPaths.removeTree(snapshotDirectory) }
        let snapshotPath = snapshotDirectory + "/" + BackupEntryName.databaseName
        var contents = try snapshot(from: databasePath, to: snapshotPath, shouldStop: shouldStop)

        let tlsDirectory = data + "/" + BackupEntryName.tlsName
        let tlsFiles = BackupPaths.isDirectory(tlsDirectory)
            ? ((try? FileManager.default.contentsOfDirectory(atPath: tlsDirectory)) ?? [])
                .filter { BackupEntryName.isPlainFileName($0) && BackupPaths.isRegularFile(tlsDirectory + "/" + $0) }.sorted()
            : []
        let masterKeyPath = data + "/" + BackupEntryName.masterKeyName
        let hasMasterKey = BackupPaths.isRegularFile(masterKeyPath)
        contents.files = [BackupEntryName.databaseName] + tlsFiles.map { BackupEntryName.tlsName + "/" + $0 }
            + (hasMasterKey ? [BackupEntryName.masterKeyName] : [])

        let temporary = outputDirectory + "/." + (output as NSString).lastPathComponent + ".partial-" + UUID().uuidString.prefix(8).lowercased()
        let handle = try BackupFileHandle.createExclusive(temporary, mode: 0o600)
        let bytes: UInt64
        do {
            let sealer = try BackupSealer(output: handle, recipient: recipient, chunkSize: chunkSize, shouldStop: shouldStop)
            let archive = BackupArchiveWriter(sealer: sealer)
            try archive.addFile(BackupArchive.manifestName, mode: 0o600, contents: contents.manifest.serialized())
            try archive.addFile(BackupEntryName.databaseName, from: snapshotPath, mode: 0o600)
            if BackupPaths.isDirectory(tlsDirectory) {
                try archive.addDirectory(BackupEntryName.tlsName, mode: 0o700)
                for name in tlsFiles {
                    try archive.addFile(BackupEntryName.tlsName + "/" + name, from: tlsDirectory + "/" + name)
                }
            }
            if hasMasterKey { try archive.addFile(BackupEntryName.masterKeyName, from: masterKeyPath, mode: 0o600) }
            try archive.finish()
            bytes = sealer.bytesWritten
            handle.close()
            try BackupPaths.publish(temporary, as: output)
        } catch {
            handle.close()
            unlink(temporary)
            throw error
        }
        return BackupReport(
            path: output, bytes: bytes, contents: contents, recipientFingerprint: recipient.fingerprintText,
            seconds: Date().timeIntervalSince(started))
    }

    /// Copies the database with SQLite's online backup inside one read transaction: a consistent state,
    /// while other connections (the running server) go on writing. Checks the copy and counts what it holds.
    static func snapshot(from databasePath: String, to snapshotPath: String, shouldStop: @escaping @Sendable () -> Bool) throws -> BackupContents {
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        do {
            let source = try DatabaseQueue(path: databasePath, configuration: configuration)
            defer { try? source.close() }
            let destination = try DatabaseQueue(path: snapshotPath)
            defer { try? destination.close() }
            try destination.writeWithoutTransaction { copy in
                try source.inDatabase { live in
                    try live.inTransaction(.deferred) {
                        // The read transaction starts here; every step below copies this one state.
                        _ = try Int.fetchOne(live, sql: "SELECT COUNT(*) FROM sqlite_master")
                        try live.backup(to: copy, pagesPerStep: 1024) { _ in
                            if shouldStop() { throw BackupError.stopped }
                        }
                        return .commit
                    }
                }
            }
            return try destination.read { copy in
                // Not quick_check: SQLite 3.40's reports NULLs that are not there in WITHOUT ROWID tables
                // whose key lists columns out of order (resource_category); integrity_check is right.
                let check = try String.fetchAll(copy, sql: "PRAGMA integrity_check")
                guard check == ["ok"] else {
                    throw BackupError(.source, "The database in \(databasePath) fails SQLite's check (\(check.prefix(3).joined(separator: "; "))); repair it before backing up.")
                }
                let counts = (try? Row.fetchAll(copy, sql: "SELECT type, COUNT(*) AS n FROM resource GROUP BY type ORDER BY type")) ?? []
                return BackupContents(
                    createdAt: FHIRDateTime.format(epochMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)),
                    serverVersion: BedsideVersion.current,
                    databaseBytes: UInt64(clamping: (try? FileManager.default.attributesOfItem(atPath: snapshotPath)[.size] as? Int) ?? 0),
                    resourceCounts: counts.map { ($0["type"], $0["n"]) },
                    accounts: try? Int.fetchOne(copy, sql: "SELECT COUNT(*) FROM account"),
                    files: [])
            }
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError(.source, "Cannot copy the database \(databasePath): \(error).")
        }
    }

    /// Database copies left by a backup whose process died (kill -9, power cut) are removed; those of a
    /// backup still running (its process alive) are left alone.
    static func removeStaleSnapshots(in data: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: data)) ?? [] where name.hasPrefix(snapshotPrefix) {
            guard let pid = Int32(name.dropFirst(snapshotPrefix.count).prefix { $0.isNumber }), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { BackupPaths.removeTree(data + "/" + name) }
        }
    }
}
