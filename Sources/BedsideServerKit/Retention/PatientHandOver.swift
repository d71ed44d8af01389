import BedsideCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Hands a patient's data over to the organisation before it is erased: one NDJSON file per resource
/// type (the current version of each resource, one per line, as Bulk Data writes them), one per type
/// with the earlier versions (`<Type>-history.ndjson`: what was corrected is part of the record), and a
/// `manifest.json`, in `<directory>/<patient id>/` (files 0600, folders 0700).
///
/// The folder is written under a hidden temporary name, synced, and renamed into place: a folder named
/// by a patient id is complete. When one of that name is there already (a run that was stopped after
/// handing over), the new one is `<patient id>.2`, `.3`, ...
struct PatientHandOver {
    let store: any ServerStore
    let pageSize = 500
    let pageBytes = 4 << 20

    struct Written: Sendable {
        var folder: URL
        /// Resources written per type.
        var counts: [String: Int]
        /// Earlier versions written, all types together.
        var earlierVersions: Int
        var total: Int { counts.values.reduce(0, +) }
    }

    func write(patientID: String, into directory: URL, at time: Int64, reason: String) async throws -> Written {
        let parent = directory.path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RetentionError.handOver("The hand-over directory \(parent) cannot be created: \(error.localizedDescription)")
        }
        let temporary: String
        do {
            temporary = try BackupPaths.makePrivateDirectory(in: parent, prefix: ".handover-")
        } catch {
            throw RetentionError.handOver("Nothing can be written in the hand-over directory \(parent).")
        }
        var published = false
        defer { if !published { BackupPaths.removeTree(temporary) } }
        var counts: [String: Int] = [:]
        var output: [JSONValue] = []
        var history: [JSONValue] = []
        var versions = 0
        for type in SupportedResource.allCases where type.isPatientData {
            let count = try await writeType(type.rawValue, patientID: patientID, into: temporary)
            if count > 0 {
                counts[type.rawValue] = count
                output.append(["type": .string(type.rawValue), "url": .string("\(type.rawValue).ndjson"), "count": .number(Double(count))])
            }
            let earlier = try await writeHistory(type.rawValue, patientID: patientID, into: temporary)
            if earlier > 0 {
                versions += earlier
                history.append(["type": .string(type.rawValue), "url": .string("\(type.rawValue)-history.ndjson"), "count": .number(Double(earlier))])
            }
        }
        let manifest: JSONValue = [
            "transactionTime": .string(FHIRDateTime.format(epochMilliseconds: time)),
            "request": .string(reason),
            "requiresAccessToken": false,
            "patient": ["reference": .string("Patient/\(patientID)")],
            "output": .array(output),
            "history": .array(history),
            "error": [],
        ]
        try writeFile(temporary + "/manifest.json", manifest.serialized() + [0x0A])
        BackupPaths.syncDirectory(temporary)
        let folder = try publish(temporary, in: parent, name: patientID)
        published = true
        BackupPaths.syncDirectory(parent)
        return Written(folder: URL(fileURLWithPath: folder), counts: counts, earlierVersions: versions)
    }

    /// Writes the earlier versions of the patient's resources of one type; returns how many.
    private func writeHistory(_ type: String, patientID: String, into folder: String) async throws -> Int {
        var file = LazyNDJSON(path: folder + "/\(type)-history.ndjson", handOver: self)
        defer { file.close() }
        var after: (id: String, version: Int)?
        while true {
            let rows = try await store.read { [after, pageSize] db in
                try db.patientHistory(patientID: patientID, type: type, after: after, limit: pageSize)
            }
            guard let last = rows.last else { break }
            try file.append(rows.map(\.json))
            after = (last.id, last.version)
        }
        return try file.finish()
    }

    /// Writes the patient's resources of one type; returns how many.
    private func writeType(_ type: String, patientID: String, into folder: String) async throws -> Int {
        var query = ResourceQuery(type: type)
        query.patientIDs = [patientID]
        var file = LazyNDJSON(path: folder + "/\(type).ndjson", handOver: self)
        defer { file.close() }
        var key: Int64? = Int64.min
        while let after = key {
            let page = try await store.read { [query, pageSize, pageBytes] db in
                // The current version, whenever it was written: the erasure checks afterwards that nothing
                // changed, and a version stamped a millisecond past `time` must not be handed over as its predecessor.
                try db.exportPage(query, updatedAfter: nil, updatedBy: .max, afterKey: after, limit: pageSize, byteBudget: pageBytes)
            }
            try file.append(page.rows.map(\.json))
            key = page.next
        }
        return try file.finish()
    }

    /// An NDJSON file made at its first line (a type with none has no file), synced at the end.
    private struct LazyNDJSON {
        let path: String
        let handOver: PatientHandOver
        private var handle: BackupFileHandle?
        private(set) var count = 0

        init(path: String, handOver: PatientHandOver) {
            self.path = path
            self.handOver = handOver
        }

        mutating func append(_ resources: [[UInt8]]) throws {
            guard !resources.isEmpty else { return }
            if handle == nil { handle = try handOver.create(path) }
            var lines: [UInt8] = []
            for json in resources {
                lines.append(contentsOf: json.filter { $0 != 0x0A && $0 != 0x0D })
                lines.append(0x0A)
            }
            try handle.map { handle in try handOver.wrapping { try handle.write(lines) } }
            count += resources.count
        }

        /// Syncs the file (if any); returns how many lines it holds.
        func finish() throws -> Int {
            try handle.map { handle in try handOver.wrapping { try handle.sync() } }
            return count
        }

        func close() { handle?.close() }
    }

    fileprivate func create(_ path: String) throws -> BackupFileHandle {
        try wrapping { try BackupFileHandle.createExclusive(path, mode: 0o600) }
    }

    private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let handle = try create(path)
        defer { handle.close() }
        try wrapping {
            try handle.write(bytes)
            try handle.sync()
        }
    }

    fileprivate func wrapping<T>(_ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch let error as BackupError {
            throw RetentionError.handOver("The hand-over could not be written: \(error.message)")
        }
    }

    /// Renames the finished folder to `name`, or `name.2`, `name.3`, ... when taken; never over another.
    private func publish(_ temporary: String, in parent: String, name: String) throws -> String {
        for attempt in 1...1000 {
            let final = parent + "/" + (attempt == 1 ? name : "\(name).\(attempt)")
            // rename(2) replaces an empty directory but not one with files in it, nor a file: refused then.
            var status = stat()
            if lstat(final, &status) == 0 { continue }
            if rename(temporary, final) == 0 { return final }
            if errno == EEXIST || errno == ENOTEMPTY || errno == ENOTDIR { continue }
            throw RetentionError.handOver("The hand-over could not be moved into place as \(final): \(String(cString: strerror(errno))).")
        }
        throw RetentionError.handOver("\(parent) already holds 1000 hand-overs of Patient/\(name).")
    }
}
