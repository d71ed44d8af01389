import BedsideCore
import Foundation

/// Where and for how long Bulk Data exports are kept.
public struct BulkExportSettings: Sendable {
    /// `<data-dir>/exports`: one directory per job, 0700, its files 0600.
    public var directory: URL
    /// How long a finished export's files stay for the client to fetch (`--export-retention-minutes`).
    public var retentionSeconds: Int64 = 2 * 3_600
    /// A file holds at most this many resources; a type with more gets several files.
    public var resourcesPerFile = 100_000
    /// Resources read per database read: each read is short, so writers never wait on an export.
    public var pageSize = 1_000
    /// ...and at most about this many bytes of them, so a page of large resources still fits in memory.
    public var pageBytes = 8 << 20
    /// Exports one client may hold at once (waiting, running, or finished and not yet deleted or
    /// expired); more are answered 429.
    public var maximumJobsPerClient = 2

    public init(directory: URL) {
        self.directory = directory
    }

    /// The folder of a job's files: one per run (`<job>/<attempt>/`), so a run that was replaced (its
    /// instance stopped leading exports) never writes over the files of the run that replaced it.
    /// Jobs finished before runs were named keep their files in `<job>/`.
    func folder(of job: ExportJobRecord) -> URL {
        let base = directory.appendingPathComponent(job.id)
        guard let attempt = job.attempt, BulkExports.isAttempt(attempt) else { return base }
        return base.appendingPathComponent(attempt)
    }
}

/// FHIR Bulk Data export (Bulk Data Access IG 2.0) as its client sees it: kick-off, status, files,
/// deletion. The work itself is `ExportWorker`'s; each job and its files belong to the backend client
/// that asked, and nobody else sees them (another client's job is "not found").
public struct BulkExports: Sendable {
    let store: any ServerStore
    let clock: any WallClock
    let auditRecorder: AuditRecorder
    let settings: BulkExportSettings
    let worker: ExportWorker

    public init(store: any ServerStore, clock: any WallClock, auditRecorder: AuditRecorder, settings: BulkExportSettings) {
        self.store = store
        self.clock = clock
        self.auditRecorder = auditRecorder
        self.settings = settings
        self.worker = ExportWorker(store: store, clock: clock, auditRecorder: auditRecorder, settings: settings)
    }

    /// What a status request learns.
    enum Status: Sendable {
        case inProgress(progress: String?)
        /// The manifest, and when its files go.
        case complete(manifest: JSONValue, expiresAt: Int64?)
        case failed(String)
    }

    /// `$export` kick-off: checks the request, records the job, wakes the worker; returns the job's id.
    func kickOff(level: ExportRequest.Level, parameters: [(String, String)], prefer: String?, requestURL: String, info: RequestInfo)
        async throws(ServerError) -> String
    {
        let request = try ExportRequest.parse(
            level: level, parameters: parameters, prefer: prefer, requestURL: requestURL, principal: info.principal)
        guard let client = info.principal.client else { throw .forbidden("Bulk Data export is for backend clients.") }
        let now = clock.now()
        let jobID = Secrets.randomHex(bytes: 16)
        let clock = self.clock
        let limit = settings.maximumJobsPerClient
        let groupAudit: (type: String?, id: String?) = if case .group(let id) = level { ("Group", id) } else { (nil, nil) }
        do {
            try await store.write { db in
                if case .group(let id) = level {
                    guard client.scopes.allows(.read, on: "Group") else {
                        throw ServerError.forbidden("This client's token has no scope to read Group (system/Group.read), so it cannot export one.")
                    }
                    guard FHIRSyntax.isValidID(id), try db.resource(type: "Group", id: id) != nil else {
                        throw ServerError.notFound("Group/\(id.prefix(64)) was not found.")
                    }
                }
                // Finished ones count until fetched and deleted, or expired: each is a copy of patients' data on disk.
                guard try db.heldExportJobs(clientID: client.clientID, at: now).count < limit else {
                    throw ServerError.throttled(retryAfterSeconds: 60)
                }
                // transactionTime is read inside the write: every version stamped up to it is committed.
                let transactionTime = FHIRService.commitTime(after: now, clock: clock)
                try db.insert(ExportJobRecord(
                    id: jobID, clientID: client.clientID, request: request.json.serialized(), status: .accepted, createdAt: now,
                    transactionTime: transactionTime))
                // And one line per type asked for: what a client takes out is on the record by type.
                try db.append(
                    [info.audit("export", type: groupAudit.type, id: groupAudit.id, status: 202, at: now)]
                        + request.types.map { info.audit("export-type", type: $0.rawValue, id: jobID, status: 202, at: now) })
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw .storage(error)
        }
        await worker.wake()
        return jobID
    }

    /// The job, when it is this client's and still there.
    private func ownJob(_ id: String, info: RequestInfo) async throws(ServerError) -> ExportJobRecord {
        guard let client = info.principal.client else {
            throw .forbidden("Bulk Data export is for backend clients (SMART Backend Services) with system scopes.")
        }
        guard Self.isJobID(id) else { throw .notFound("There is no export \(id.prefix(64)).") }
        let job: ExportJobRecord?
        do { job = try await store.read { db in try db.exportJob(id: id) } } catch { throw .storage(error) }
        guard let job, job.clientID == client.clientID, job.status != .cancelled, (job.expiresAt ?? .max) > clock.now() else {
            throw .notFound("There is no export \(id.prefix(64)); it may have expired or been deleted.")
        }
        return job
    }

    static func isJobID(_ text: String) -> Bool {
        text.utf8.count == 32 && isLowercaseHex(text)
    }

    /// A run's name (`ExportJobRecord.attempt`): 16 lowercase hex digits.
    static func isAttempt(_ text: String) -> Bool {
        text.utf8.count == 16 && isLowercaseHex(text)
    }

    private static func isLowercaseHex(_ text: String) -> Bool {
        text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// A status request.
    func status(jobID: String, info: RequestInfo) async throws(ServerError) -> Status {
        let job = try await ownJob(jobID, info: info)
        switch job.status {
        case .accepted, .running, .cancelled: return .inProgress(progress: job.progress)
        case .failed: return .failed(job.error ?? "The export failed.")
        case .complete:
            guard let bytes = job.manifest, let manifest = JSONParser.parseOrNil(bytes) else { return .failed("The export's manifest is missing.") }
            return .complete(manifest: manifest, expiresAt: job.expiresAt)
        }
    }

    /// The manifest a client reads: the stored one with its files' URLs under `rootURL`.
    static func manifest(_ stored: JSONValue, jobID: String, rootURL: String) -> JSONValue {
        var object = stored.objectValue ?? JSONObject()
        object["output"] = .array((stored["output"]?.arrayValue ?? []).map { file in
            var entry = file.objectValue ?? JSONObject()
            let name = entry["file"]?.stringValue ?? ""
            entry["file"] = nil
            entry["url"] = .string("\(rootURL)/bulk/\(jobID)/\(name)")
            return .object(entry)
        })
        return .object(object)
    }

    /// The path of one of a complete job's files, after checking it is listed in its manifest.
    func file(jobID: String, name: String, info: RequestInfo) async throws(ServerError) -> (path: String, type: String) {
        let job = try await ownJob(jobID, info: info)
        let listed = job.manifest.flatMap(JSONParser.parseOrNil)?["output"]?.arrayValue ?? []
        guard job.status == .complete, let entry = listed.first(where: { $0["file"]?.stringValue == name }) else {
            throw .notFound("The export \(jobID) has no file \(name.prefix(64)).")
        }
        let type = entry["type"]?.stringValue ?? ""
        let path = settings.folder(of: job).appendingPathComponent(name).path
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .notFound("The export \(jobID)'s file \(name.prefix(64)) is gone; it may have expired or been deleted.")
        }
        await auditRecorder.record(info.audit("export-download", type: type, id: "\(jobID)/\(name)", status: 200, at: clock.now()))
        return (path, type)
    }

    /// DELETE on the status URL: the job stops (if it runs) and its files are deleted.
    func cancel(jobID: String, info: RequestInfo) async throws(ServerError) {
        _ = try await ownJob(jobID, info: info)
        let now = clock.now()
        do {
            try await store.write { db in
                guard var job = try db.exportJob(id: jobID) else { return }
                job.status = .cancelled
                job.finishedAt = now
                try db.update(job)
                try db.append([info.audit("export-delete", type: nil, id: jobID, status: 202, at: now)])
            }
        } catch {
            throw .storage(error)
        }
        await worker.purge()
    }
}
