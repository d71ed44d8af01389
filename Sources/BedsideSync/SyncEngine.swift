import BedsideCore
import BedsideStore
import Foundation

/// Where a sync run is, for the status line ("sending 3 of 120").
public enum SyncProgress: Sendable, Equatable {
    case sending(done: Int, total: Int)
    case receiving
}

/// What one sync run did.
public struct SyncReport: Sendable, Equatable {
    public var sent = 0
    public var rejected = 0
    /// Measurements that came down from the server (a nurse's entries, another device's).
    public var received = 0
    /// Why the run stopped early, if it did (offline, refused login, TLS failure, a busy server).
    public var error: APIError?
    /// The server's clock minus ours, from the `Date` of its last answer, in milliseconds.
    public var serverClockOffset: Int64?
    /// The server's time at its last answer (its own clock), when it said.
    public var serverTime: Int64?
    /// Requests made, and bytes on the wire both ways (headers included), for `bedside-bench sync`.
    public var roundTrips = 0
    public var bytesSent = 0
    public var bytesReceived = 0

    public init() {}

    /// Counts one exchange, and reads the server's time from it: the `meta.lastUpdated` the server stamps
    /// on every Bundle it answers with (its own clock), else the HTTP `Date` header.
    mutating func count(_ response: HTTPResponseData, body: JSONValue?, sentAt: Int64, receivedAt: Int64) {
        roundTrips += 1
        bytesSent += response.bytesSent
        bytesReceived += response.bytesReceived
        let midpoint = sentAt + (receivedAt - sentAt) / 2
        if let stamp = body?.lastUpdatedMilliseconds {
            serverTime = stamp
            serverClockOffset = stamp - midpoint
        } else if let date = response.header("date").flatMap(HTTPDate.parse) {
            // The Date has whole seconds; half a second is the best guess for where in it the answer left.
            serverTime = date
            serverClockOffset = date + 500 - midpoint
        }
    }
}

/// Pushes the outbox to the server as FHIR transaction Bundles, and pulls what the server has.
///
/// Each new measurement is a conditional create on its `urn:uuid` identifier, so a batch that is sent
/// again after a lost answer returns the resources made the first time instead of duplicating them.
/// A withdrawn measurement becomes an entered-in-error update with If-Match, of the server's own copy
/// (so what another system wrote, in units or with parts the app does not show, is kept as it was but
/// for its status). Nothing leaves the queue
/// until the server's answer for it has been read and committed locally, in one transaction per batch.
public struct SyncEngine: Sendable {
    public typealias ProgressHandler = @Sendable (SyncProgress) -> Void

    public let api: BedsideAPI
    public let store: ClientStore
    public let token: String
    public let clock: any WallClock
    /// Entries per transaction Bundle. Halved automatically if the server finds a Bundle too large (413).
    public var batchSize = 250

    public init(api: BedsideAPI, store: ClientStore, token: String, clock: any WallClock) {
        self.api = api
        self.store = store
        self.token = token
        self.clock = clock
    }

    /// Pushes, then (if that went well) pulls.
    public func run(patientID: String, progress: ProgressHandler? = nil) async -> SyncReport {
        var report = await push(patientID: patientID, progress: progress)
        guard report.error == nil else { return report }
        progress?(.receiving)
        await pull(patientID: patientID, into: &report)
        return report
    }

    /// Sends everything queued, batch by batch. Stops at the first failure that is not one entry's fault.
    public func push(patientID: String, progress: ProgressHandler? = nil) async -> SyncReport {
        var report = SyncReport()
        var skipped: Set<Int64> = []
        var size = max(1, batchSize)
        let total = (try? store.unsentCount()) ?? 0
        progress?(.sending(done: 0, total: total))
        while true {
            let items: [PushItem]
            do {
                items = try queued(limit: size, skipping: skipped, patientID: patientID)
            } catch {
                report.error = .invalidResponse(error.description)
                return report
            }
            guard !items.isEmpty else { break }
            let sent: [PushItem]
            switch await withdrawingServerCopies(items, patientID: patientID, into: &report) {
            case .success(let ready): sent = ready
            case .failure(let error):
                report.error = error
                return report
            }
            let response: HTTPResponseData
            let body: JSONValue?
            do {
                (response, body) = try await exchange("POST", "/fhir", json: Self.transaction(sent), into: &report)
            } catch {
                report.error = error
                return report
            }
            if response.status == 200 {
                guard let entries = body?["entry"]?.arrayValue, entries.count == items.count else {
                    report.error = .invalidResponse("the transaction answer does not match the \(items.count) entries sent")
                    return report
                }
                var acknowledgements: [ClientStore.ServerAcknowledgement] = []
                for (item, entry) in zip(items, entries) {
                    guard let (serverID, version) = Self.location(entry["response"]?["location"]?.stringValue) else {
                        report.error = .invalidResponse("an entry came back without its location")
                        return report
                    }
                    acknowledgements.append(ClientStore.ServerAcknowledgement(
                        id: item.recordID, operation: item.operation, serverID: serverID, version: version))
                }
                do {
                    try store.acknowledge(acknowledgements, now: clock.now())
                } catch {
                    report.error = .invalidResponse(error.description)
                    return report
                }
                report.sent += items.count
                progress?(.sending(done: report.sent, total: max(total, report.sent)))
                continue
            }
            if response.status == 413, size > 1 {
                size = max(1, size / 2)
                continue
            }
            // 4xx naming one entry: keep that entry aside with the server's reason, send the rest again.
            let refusal = BedsideAPI.refusal(response)
            if (400...499).contains(response.status), ![401, 403, 408, 413, 429].contains(response.status),
                let index = Self.entryIndex(in: response), items.indices.contains(index)
            {
                let reason: String
                if case .refused(_, _, let message, _) = refusal { reason = message } else { reason = refusal.description }
                do {
                    try store.markRejected(id: items[index].recordID, reason: reason, now: clock.now())
                } catch {
                    report.error = .invalidResponse(error.description)
                    return report
                }
                report.rejected += 1
                skipped.insert(items[index].sequence)
                continue
            }
            report.error = refusal
            return report
        }
        try? store.setSetting("lastSync", String(clock.now()))
        if let offset = report.serverClockOffset { try? store.setSetting("clockOffset", String(offset)) }
        return report
    }

    /// One request, counted in `report` (round trips, bytes, and the server's clock): the answer and its JSON.
    func exchange(
        _ method: String, _ path: String, json: JSONValue? = nil, headers: [(String, String)] = [], into report: inout SyncReport
    ) async throws(APIError) -> (response: HTTPResponseData, body: JSONValue?) {
        let sentAt = clock.now()
        let response = try await api.send(method, path, json: json, token: token, headers: headers)
        let body = response.json
        report.count(response, body: body, sentAt: sentAt, receivedAt: clock.now())
        return (response, body)
    }

    /// Withdraws mark the server's copy, not one rebuilt from what the app understood of it: the copies
    /// are read (one batch for the lot) and their status changed, everything else kept. A copy that is
    /// gone (404/410) or answers otherwise leaves the rebuilt one, whose If-Match the server judges.
    static let readsPerBatch = 100

    func withdrawingServerCopies(_ items: [PushItem], patientID: String, into report: inout SyncReport) async -> Result<[PushItem], APIError> {
        let withdrawals = items.indices.filter { items[$0].operation == .withdraw && items[$0].serverID != nil }
        guard !withdrawals.isEmpty else { return .success(items) }
        let reads = withdrawals.map { ReadRequest(url: "Observation/\(items[$0].serverID ?? "")") }
        var results: [ReadResult] = []
        // A batch holds at most 100 reads (the reference server's limit, and a sensible one anywhere).
        for start in stride(from: 0, to: reads.count, by: Self.readsPerBatch) {
            switch await perform(Array(reads[start..<min(start + Self.readsPerBatch, reads.count)]), into: &report) {
            case .success(let answers): results += answers
            case .failure(let error): return .failure(error)
            }
        }
        var ready = items
        for (index, result) in zip(withdrawals, results) {
            // Only the whole resource, of this patient, stands in for the rebuilt one.
            guard result.status == 200, var copy = result.resource?.objectValue, copy["resourceType"]?.stringValue == "Observation",
                copy["id"]?.stringValue == items[index].serverID, copy["subject"]?["reference"]?.stringValue == "Patient/\(patientID)",
                !(copy["meta"]?["tag"]?.arrayValue ?? []).contains(where: { $0["code"]?.stringValue == "SUBSETTED" }),
                var entry = items[index].entry.objectValue
            else { continue }
            copy["status"] = "entered-in-error"
            entry["resource"] = .object(copy)
            ready[index].entry = .object(entry)
        }
        return .success(ready)
    }

    /// `Observation/<id>/_history/<version>` as id and version.
    static func location(_ text: String?) -> (String, Int)? {
        guard let parts = text?.split(separator: "/"), parts.count >= 4, let version = Int(parts[3]) else { return nil }
        return (String(parts[1]), version)
    }

    /// Fetches the patient's measurements the server has that this device does not (a nurse's entries, the
    /// history from before this device), incrementally from the last pull.
    public func pull(patientID: String) async -> SyncReport {
        var report = SyncReport()
        await pull(patientID: patientID, into: &report)
        return report
    }

    /// The entry an OperationOutcome names, from `Bundle.entry[3]...`.
    static func entryIndex(in response: HTTPResponseData) -> Int? {
        guard let outcome = response.json.flatMap(OperationOutcome.init(json:)) else { return nil }
        for issue in outcome.issues {
            let text = issue.expression ?? issue.diagnostics
            guard let open = text.range(of: "Bundle.entry["), let close = text[open.upperBound...].firstIndex(of: "]") else { continue }
            if let index = Int(text[open.upperBound..<close]) { return index }
        }
        return nil
    }

    /// One queued change as it travels: its place in the queue, what it is, and its transaction entry.
    struct PushItem: Sendable {
        var sequence: Int64
        var recordID: String
        var operation: ClientStore.OutboxItem.Operation
        var entry: JSONValue
        /// The server's id of a sent measurement (a withdraw's target).
        var serverID: String? = nil
    }

    /// The next batch: queued measurement changes first, then finished questionnaire responses.
    func queued(limit: Int, skipping skipped: Set<Int64>, patientID: String) throws(StoreError) -> [PushItem] {
        var items = try store.outbox(limit: limit + skipped.count).filter { !skipped.contains($0.sequence) }.prefix(limit).map { item in
            PushItem(
                sequence: item.sequence, recordID: item.record.id, operation: item.operation, entry: Self.entry(for: item, patientID: patientID),
                serverID: item.record.serverID)
        }
        if items.count < limit {
            for queued in try store.responseOutbox(limit: limit + skipped.count) where !skipped.contains(queued.sequence) && items.count < limit {
                items.append(PushItem(
                    sequence: queued.sequence, recordID: queued.response.id, operation: .respond, entry: Self.entry(forResponse: queued.response)))
            }
        }
        return items
    }

    static func transaction(_ items: [PushItem]) -> JSONValue {
        ["resourceType": "Bundle", "type": "transaction", "entry": .array(items.map(\.entry))]
    }

    /// A finished questionnaire response: a conditional create on its `urn:uuid` identifier, like a measurement.
    static func entry(forResponse stored: StoredResponse) -> JSONValue {
        [
            "fullUrl": .string("urn:uuid:\(stored.id)"),
            "resource": stored.payload["response"] ?? .null,
            "request": [
                "method": "POST", "url": "QuestionnaireResponse",
                "ifNoneExist": .string("identifier=urn:ietf:rfc:3986|urn:uuid:\(stored.id)"),
            ],
        ]
    }

    static func entry(for item: ClientStore.OutboxItem, patientID: String) -> JSONValue {
        let record = item.record
        switch item.operation {
        case .create, .respond:
            let observation = ObservationBuilder.observation(
                kind: record.kind, values: record.values, effective: record.effectiveAsKnown, patientID: patientID, clientID: record.id,
                note: record.note)
            return [
                "fullUrl": .string("urn:uuid:\(record.id)"),
                "resource": observation,
                "request": [
                    "method": "POST", "url": "Observation",
                    "ifNoneExist": .string("identifier=urn:ietf:rfc:3986|urn:uuid:\(record.id)"),
                ],
            ]
        case .withdraw:
            var observation = ObservationBuilder.observation(
                kind: record.kind, values: record.values, effective: record.effectiveAsKnown, patientID: patientID, clientID: record.id,
                note: record.note, status: "entered-in-error").objectValue ?? [:]
            let serverID = record.serverID ?? ""
            observation["id"] = .string(serverID)
            var request: JSONObject = ["method": "PUT", "url": .string("Observation/\(serverID)")]
            if let version = record.serverVersion { request["ifMatch"] = .string("W/\"\(version)\"") }
            return ["resource": .object(observation), "request": .object(request)]
        }
    }
}
