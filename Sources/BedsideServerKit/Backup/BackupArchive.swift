import Foundation

/// The plaintext inside a backup: a sequence of entries, then an end mark. Integers are big-endian.
///
/// ```
/// entry  1 byte kind: "F" file, "D" directory, "E" end (nothing follows)
///        2 bytes name length, then the name (UTF-8, relative, "/" between parts)
///        2 bytes permission bits
///        files only: 8 bytes length, then the bytes
/// ```
///
/// The first entry is `manifest.json`. A restore accepts only the names a backup writes (see
/// `BackupEntryName`), so a backup made by someone else with the public key cannot place a file elsewhere.
enum BackupArchive {
    static let file: UInt8 = 0x46
    static let directory: UInt8 = 0x44
    static let end: UInt8 = 0x45
    static let maximumNameLength = 255
    static let manifestName = "manifest.json"
    static let maximumManifestLength = 1 << 20
}

/// Writes entries into a sealer.
struct BackupArchiveWriter {
    let sealer: BackupSealer

    func addDirectory(_ name: String, mode: mode_t) throws {
        try sealer.write(head(kind: BackupArchive.directory, name: name, mode: mode))
    }

    func addFile(_ name: String, mode: mode_t, contents: [UInt8]) throws {
        var bytes = head(kind: BackupArchive.file, name: name, mode: mode)
        bytes.appendBigEndian(UInt64(contents.count))
        try sealer.write(bytes + contents)
    }

    /// Streams the file at `path` (opened without following links) in 1 MiB reads.
    func addFile(_ name: String, from path: String, mode: mode_t? = nil) throws {
        let handle = try BackupFileHandle.openForReading(path, followLinks: false)
        let status = try handle.status()
        var bytes = head(kind: BackupArchive.file, name: name, mode: mode ?? status.mode)
        bytes.appendBigEndian(status.size)
        try sealer.write(bytes)
        var left = status.size
        while left > 0 {
            let piece = try handle.read(upTo: Int(min(left, 1 << 20)))
            guard !piece.isEmpty else { throw BackupError(.source, "\(path) became shorter while it was being backed up.") }
            try sealer.write(piece)
            left -= UInt64(piece.count)
        }
    }

    func finish() throws {
        try sealer.write([BackupArchive.end])
        try sealer.finish()
    }

    private func head(kind: UInt8, name: String, mode: mode_t) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        var bytes: [UInt8] = [kind]
        bytes.appendBigEndian(UInt16(clamping: nameBytes.count))
        bytes += nameBytes
        bytes.appendBigEndian(UInt16(truncatingIfNeeded: mode & 0o777))
        return bytes
    }
}

/// One entry read back; a file's bytes are still to be read with `BackupArchiveReader.copyContents`.
struct BackupArchiveEntry {
    enum Kind { case file(length: UInt64), directory }
    let kind: Kind
    let name: BackupEntryName
    let mode: mode_t
}

/// The names a backup holds, and nothing else: the database, the master key, the TLS directory and the
/// files directly in it. Anything else in a backup is refused.
enum BackupEntryName: Equatable {
    case manifest
    case database
    case masterKey
    case tlsDirectory
    case tlsFile(String)

    static let databaseName = "bedside-server.sqlite"
    static let masterKeyName = "master.key"
    static let tlsName = "tls"

    init?(_ name: String) {
        switch name {
        case BackupArchive.manifestName: self = .manifest
        case Self.databaseName: self = .database
        case Self.masterKeyName: self = .masterKey
        case Self.tlsName: self = .tlsDirectory
        default:
            guard name.hasPrefix(Self.tlsName + "/") else { return nil }
            let file = String(name.dropFirst(Self.tlsName.count + 1))
            guard Self.isPlainFileName(file) else { return nil }
            self = .tlsFile(file)
        }
    }

    /// A name of one path component, of letters, digits, `.`, `_` and `-`, not starting with a dot.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    var relativePath: String {
        switch self {
        case .manifest: BackupArchive.manifestName
        case .database: Self.databaseName
        case .masterKey: Self.masterKeyName
        case .tlsDirectory: Self.tlsName
        case .tlsFile(let name): Self.tlsName + "/" + name
        }
    }
}

/// Reads entries from an opener, checking each head before anything is written.
struct BackupArchiveReader {
    let opener: BackupOpener
    let name: String

    /// The next entry, or nil at the end mark.
    func next() throws -> BackupArchiveEntry? {
        let kind = try opener.readExactly(1, what: "an entry")[0]
        if kind == BackupArchive.end { return nil }
        guard kind == BackupArchive.file || kind == BackupArchive.directory else {
            throw BackupError(.damaged, "\(name) holds an entry of unknown kind; it was not made by bedside-server backup.")
        }
        let nameLength = Int(try opener.readExactly(2, what: "an entry's name").bigEndianUInt16(at: 0))
        guard (1...BackupArchive.maximumNameLength).contains(nameLength) else {
            throw BackupError(.damaged, "\(name) holds an entry with a name of \(nameLength) bytes; it was not made by bedside-server backup.")
        }
        let rawName = String(decoding: try opener.readExactly(nameLength, what: "an entry's name"), as: UTF8.self)
        let mode = mode_t(try opener.readExactly(2, what: "an entry's mode").bigEndianUInt16(at: 0) & 0o777)
        guard let entryName = BackupEntryName(rawName) else {
            throw BackupError(.damaged, "\(name) holds an entry named \(rawName.debugDescription), which a backup never holds; nothing was restored.")
        }
        if kind == BackupArchive.directory {
            guard entryName == .tlsDirectory else {
                throw BackupError(.damaged, "\(name) holds \(rawName.debugDescription) as a directory; nothing was restored.")
            }
            return BackupArchiveEntry(kind: .directory, name: entryName, mode: mode)
        }
        guard entryName != .tlsDirectory else {
            throw BackupError(.damaged, "\(name) holds \"tls\" as a file; nothing was restored.")
        }
        let length = try opener.readExactly(8, what: "an entry's length").bigEndianUInt64(at: 0)
        return BackupArchiveEntry(kind: .file(length: length), name: entryName, mode: mode)
    }

    /// Reads a file entry's bytes into memory (the manifest), at most `limit` of them.
    func contents(of entry: BackupArchiveEntry, limit: Int) throws -> [UInt8] {
        guard case .file(let length) = entry.kind, length <= UInt64(limit) else {
            throw BackupError(.damaged, "\(name) holds a \(entry.name.relativePath) larger than a backup writes; nothing was restored.")
        }
        return try opener.readExactly(Int(length), what: entry.name.relativePath)
    }

    /// Copies a file entry's bytes into `output`, a piece at a time.
    func copyContents(of entry: BackupArchiveEntry, to output: BackupFileHandle) throws {
        guard case .file(let length) = entry.kind else { return }
        var left = length
        while left > 0 {
            let piece = try opener.read(upTo: Int(min(left, 1 << 20)))
            guard !piece.isEmpty else { throw BackupError(.damaged, "\(name) is damaged: its contents end inside \(entry.name.relativePath).") }
            try piece.withUnsafeBytes { try output.write($0) }
            left -= UInt64(piece.count)
        }
    }
}
