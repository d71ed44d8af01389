import BedsideCore
import Foundation

/// Runs Bulk Data exports one at a time, in the background of the server: each type is read in short
/// pages and streamed to NDJSON files, so memory stays flat however large the export. A job that the
/// server stopped in the middle runs again from the start when it comes back (`resume`). Of instances
/// sharing a database, the one that leads `.exports` runs them; a job asked of another waits for that
/// one's next tick.
actor ExportWorker {
    let store: any ServerStore
    let clock: any WallClock
    let auditRecorder: AuditRecorder
    let settings: BulkExportSettings
    private var draining = false
    private var drainTask: Task<Void, Never>?
    private var stopped = false
    /// Whether this instance ran exports at its last tick.
    private var leading = false

    init(store: any ServerStore, clock: any WallClock, auditRecorder: AuditRecorder, settings: BulkExportSettings) {
        self.store = store
        self.clock = clock
        self.auditRecorder = auditRecorder
        self.settings = settings
    }

    /// A finished job: its manifest (file names, not URLs) and the patients whose data it holds.
    struct Exported {
        var manifest: JSONValue
        var patients: Set<String>
    }

    /// Why a job stopped early.
    enum Stop: Error {
        /// Its client deleted it.
        case cancelled
        case failed(String)
    }

    /// Starts working through waiting jobs, unless already doing so or another instance runs them.
    func wake() {
        guard leading, !draining, !stopped else { return }
        draining = true
        drainTask = Task { await self.drain() }
    }

    /// At stop: the job in hand ends at its next page and stays `running`, to be run again at the next
    /// start; nothing reads the store after this returns.
    func stop() async {
        stopped = true
        drainTask?.cancel()
        await drainTask?.value
    }

    /// Returns when the jobs in hand have run out (or stopped).
    func waitUntilIdle() async {
        await drainTask?.value
    }

    /// At start: as a tick, so jobs left running by a server that stopped go back to waiting and run.
    func resume() async {
        await tick()
    }

    /// Every half minute: old files go, a job a failed write left `running` (none runs) waits again,
    /// and waiting jobs start if a wake was missed. An instance that has just come to lead exports
    /// first puts back what the one before it left running.
    func tick() async {
        guard !stopped else { return }
        guard await store.leads(.exports) else {
            // Another instance leads now: the job in hand stops at its next page and stays `running`,
            // for that instance to put back and run again.
            if leading { drainTask?.cancel() }
            leading = false
            return
        }
        if !leading {
            leading = true
            await takeOver()
        } else if !draining {
            await requeueRunning()
        }
        await purge()
        wake()
    }

    /// Jobs left running (by this server before it stopped, or by the instance that led before) go back
    /// to waiting, their partial files removed; so do directories whose job is gone.
    private func takeOver() async {
        await requeueRunning()
        // Directories whose job is gone (deleted while a server that then stopped was writing them).
        let names = (try? FileManager.default.contentsOfDirectory(atPath: settings.directory.path)) ?? []
        for name in names where BulkExports.isJobID(name) {
            if (try? await store.read({ db in try db.exportJob(id: name) })) == .some(nil) { removeFiles(of: name) }
        }
    }

    /// Deletes the files and rows of jobs deleted by their clients or past their retention.
    func purge() async {
        let now = clock.now()
        guard let due = try? await store.read({ db in try db.exportJobsToDelete(at: now) }) else { return }
        for job in due {
            // A job still running notices its cancellation at its next page and stops writing.
            removeFiles(of: job.id)
            try? await store.write { db in try db.deleteExportJob(id: job.id) }
        }
    }

    private func drain() async {
        defer { draining = false }
        // Leadership is asked again before each job: it can pass to another instance between ticks.
        while !Task.isCancelled, leading, await store.leads(.exports), let job = await claimNext() {
            await run(job)
        }
    }

    private func claimNext() async -> ExportJobRecord? {
        try? await store.write { db in
            guard var job = try db.nextExportJob() else { return nil }
            job.status = .running
            job.attempt = Secrets.randomHex(bytes: 8)
            try db.update(job)
            return job
        }
    }

    private func directory(of jobID: String) -> URL { settings.directory.appendingPathComponent(jobID) }

    private func removeFiles(of jobID: String) {
        try? FileManager.default.removeItem(at: directory(of: jobID))
    }

    /// Jobs marked running that no run here has in hand go back to waiting, each run's files removed.
    private func requeueRunning() async {
        guard let requeued = try? await store.write({ db in try db.requeueRunningExportJobs() }) else { return }
        for job in requeued { removeRunFiles(of: job) }
    }

    /// The folder of one run of a job, and only that: another run (the job's next, claimed once it was
    /// put back) may be writing beside it. (A run from before runs were named wrote into the job's own
    /// folder, which then goes whole.)
    private func removeRunFiles(of job: ExportJobRecord) {
        try? FileManager.default.removeItem(at: settings.folder(of: job))
    }

    private func run(_ job: ExportJobRecord) async {
        let outcome: Result<Exported, Stop>
        do {
            outcome = .success(try await export(job))
        } catch let stop as Stop {
            outcome = .failure(stop)
        } catch is CancellationError {
            return  // the server stops: `resume` runs it again at the next start
        } catch where Task.isCancelled {
            // Stopped (the server stops, or another instance leads exports now) while it waited on the
            // database, which says so in its own words: left `running` for whoever runs it next.
            return
        } catch {
            outcome = .failure(.failed("The export could not be written (\(type(of: error))); ask again."))
        }
        let now = clock.now()
        let retention = settings.retentionSeconds * 1000
        let audit = AuditEvent(
            at: now, actorID: job.clientID, actorRole: "system", action: "export-run", resourceType: nil, resourceID: job.id,
            outcome: (try? outcome.get()) == nil ? "failure" : "success", httpStatus: (try? outcome.get()) == nil ? 500 : 200,
            remoteAddress: nil, request: "export worker")
        let finished = try? await store.write { db -> Bool in
            // Deleted meanwhile: nothing to record but its end.
            // Deleted meanwhile, or given to another run: nothing to record but its end.
            guard var current = try db.exportJob(id: job.id), current.status == .running, current.attempt == job.attempt else { return false }
            current.finishedAt = now
            current.expiresAt = now + retention
            current.progress = nil
            switch outcome {
            case .success(let exported):
                current.status = .complete
                current.manifest = exported.manifest.serialized()
            case .failure(.failed(let reason)):
                current.status = .failed
                current.error = reason
            case .failure(.cancelled):
                current.status = .cancelled
            }
            try db.update(current)
            // Who was handed over, one line per patient, as a search records whom it showed.
            let patients = ((try? outcome.get())?.patients ?? []).sorted().map { patientID in
                var line = audit
                line.patientID = patientID
                return line
            }
            try db.append([audit] + patients)
            return true
        }
        // The answer to the final write was lost (the database went away as it committed): what it
        // holds now decides whether these files are the job's.
        var recorded = finished
        if finished == nil, let current = try? await store.read({ db in try db.exportJob(id: job.id) }) {
            recorded = current.status == .complete && current.attempt == job.attempt
        }
        // Only this run's own folder: another run may be writing the job's other one.
        if recorded != true || (try? outcome.get()) == nil { removeRunFiles(of: job) }
    }

    /// Writes the job's files; returns its manifest (file names, not URLs).
    private func export(_ job: ExportJobRecord) async throws -> Exported {
        guard let parsed = JSONParser.parseOrNil(job.request), let request = ExportRequest(json: parsed) else {
            throw Stop.failed("The export request could not be read back; ask again.")
        }
        let folder = settings.folder(of: job)
        for level in [directory(of: job.id), folder] where !FileManager.default.fileExists(atPath: level.path) {
            try FileManager.default.createDirectory(at: level, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // The patients whose compartments are exported (nil: the whole type).
        var members: [String]?
        if case .group(let id) = request.level {
            let group = try await store.read { db in try db.resource(type: "Group", id: id) }
            guard let group, let json = JSONParser.parseOrNil(group.json) else { throw Stop.failed("Group/\(id) is no longer there.") }
            let active = (json["member"]?.arrayValue ?? []).filter { $0["inactive"]?.boolValue != true }
            members = Array(Set(active.compactMap { ResourceIndexer.patientID($0["entity"]) })).sorted()
        }
        let expected = try await store.read { [members] db in
            members == nil ? try request.types.reduce(0) { $0 + (try db.count(type: $1.rawValue)) } : nil
        }
        var progress = ExportProgress(expected: expected, clock: clock)
        let pageSize = settings.pageSize
        let byteBudget = settings.pageBytes
        var output: [JSONValue] = []
        var exportedPatients = Set<String>()
        for type in request.types {
            var files = NDJSONFiles(
                folder: folder, type: type.rawValue, perFile: settings.resourcesPerFile, keys: store.keys, jobID: job.id)
            defer { files.close() }
            for patients in members.map({ $0.map { [$0] } }) ?? [nil] {
                var query = ResourceQuery(type: type.rawValue)
                query.patientIDs = patients
                var key: Int64? = Int64.min
                while let after = key {
                    let page = try await store.read { [query] db in
                        try db.exportPage(
                            query, updatedAfter: request.since, updatedBy: job.transactionTime, afterKey: after, limit: pageSize,
                            byteBudget: byteBudget)
                    }
                    for row in page.rows {
                        try files.append(row.json)
                        if let patientID = row.patientID { exportedPatients.insert(patientID) }
                    }
                    progress.add(page.rows.count)
                    try await checkStillWanted(job, progress: &progress)
                    key = page.next
                }
            }
            try files.finish()
            output += files.written.map { ["type": .string(type.rawValue), "file": .string($0.name), "count": .number($0.count)] }
        }
        let manifest: JSONValue = [
            "transactionTime": .string(FHIRDateTime.format(epochMilliseconds: job.transactionTime)),
            "request": .string(request.requestURL),
            "requiresAccessToken": true,
            "output": .array(output),
            "error": [],
        ]
        return Exported(manifest: manifest, patients: exportedPatients)
    }

    /// Stops when the client deleted the job or another run has it; now and then records how far it got.
    private func checkStillWanted(_ run: ExportJobRecord, progress: inout ExportProgress) async throws {
        try Task.checkCancellation()
        let (id, attempt) = (run.id, run.attempt)
        // A read each page; a write only when progress is due (once a second), so ingest barely notices.
        guard let report = progress.reportDue() else {
            let current = try await store.read { db in try db.exportJob(id: id) }
            guard let current, current.status == .running, current.attempt == attempt else { throw Stop.cancelled }
            return
        }
        let ours = try await store.write { db -> Bool in
            guard var job = try db.exportJob(id: id), job.status == .running, job.attempt == attempt else { return false }
            job.progress = report
            try db.update(job)
            return true
        }
        guard ours else { throw Stop.cancelled }
    }
}

/// How far an export is, for `X-Progress`: a percentage when the total is known.
struct ExportProgress {
    let expected: Int?
    let clock: any WallClock
    private(set) var written = 0
    private var reportedAt: Int64 = 0

    init(expected: Int?, clock: any WallClock) {
        self.expected = expected
        self.clock = clock
    }

    mutating func add(_ count: Int) { written += count }

    var text: String {
        guard let expected, expected > 0 else { return "\(written) resources written" }
        let percent = min(99, written * 100 / expected)
        return "\(percent)% (\(written) of about \(expected) resources)"
    }

    /// The text, at most once a second.
    mutating func reportDue() -> String? {
        let now = clock.now()
        guard now - reportedAt >= 1000 else { return nil }
        reportedAt = now
        return text
    }
}

/// One type's NDJSON files: a line per resource, a new file every `perFile` lines, written in sealed
/// chunks of about 1 MiB (`SealedExportFile`), created 0600.
struct NDJSONFiles {
    let folder: URL
    let type: String
    let perFile: Int
    let keys: StoreKeys
    let jobID: String
    private(set) var written: [(name: String, count: Int)] = []
    private var handle: FileHandle?
    private var buffer: [UInt8] = []
    private var inFile = 0
    private var chunks = 0

    init(folder: URL, type: String, perFile: Int, keys: StoreKeys, jobID: String) {
        self.folder = folder
        self.type = type
        self.perFile = max(1, perFile)
        self.keys = keys
        self.jobID = jobID
    }

    mutating func append(_ json: [UInt8]) throws {
        if handle == nil || inFile == perFile { try startFile() }
        // A stored resource is one line already (serialized compactly); a newline inside would split it.
        buffer.append(contentsOf: json.filter { $0 != 0x0A && $0 != 0x0D })
        buffer.append(0x0A)
        inFile += 1
        written[written.count - 1].count = inFile
        if buffer.count >= 1 << 20 { try flush(last: false) }
    }

    private mutating func startFile() throws {
        try finish()
        let name = "\(type)-\(written.count + 1).ndjson"
        let path = folder.appendingPathComponent(name).path
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let opened = FileHandle(forWritingAtPath: path)
        else { throw ExportWorker.Stop.failed("The export file \(name) could not be created.") }
        handle = opened
        written.append((name, 0))
        inFile = 0
        chunks = 0
    }

    /// Seals what is buffered as the file's next chunk (the last one is sealed as last, even if empty).
    private mutating func flush(last: Bool) throws {
        guard let handle, let name = written.last?.name, !buffer.isEmpty || last else { return }
        let sealed = try keys.seal(buffer, context: SealedExportFile.context(job: jobID, file: name, index: chunks, last: last))
        let length = UInt32(sealed.count)
        try handle.write(contentsOf: [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
        try handle.write(contentsOf: sealed)
        chunks += 1
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered and closes the current file.
    mutating func finish() throws {
        try flush(last: true)
        try handle?.close()
        handle = nil
    }

    /// Closes without caring whether it works (after a failure).
    mutating func close() {
        try? handle?.close()
        handle = nil
    }
}
