import BedsideCore
import BedsideStore
import Foundation

/// What one sync run did.
public struct SyncReport: Sendable, Equatable {
    public var sent = 0
    public var rejected = 0
    /// Why the run stopped early, if it did (offline, refused login, TLS failure).
    public var error: APIError?
}

/// Pushes the outbox to the server as FHIR transaction Bundles.
///
/// Each new measurement is a conditional create on its `urn:uuid` identifier, so a batch that is sent
/// again after a lost answer returns the resources made the first time instead of duplicating them.
/// A withdrawn measurement becomes an entered-in-error update with If-Match.
public struct SyncEngine: Sendable {
    public let api: BedsideAPI
    public let store: ClientStore
    public let token: String
    public let clock: any WallClock
    public var batchSize = 100

    public init(api: BedsideAPI, store: ClientStore, token: String, clock: any WallClock) {
        self.api = api
        self.store = store
        self.token = token
        self.clock = clock
    }

    /// Sends everything queued, batch by batch. Stops at the first failure that is not one entry's fault.
    public func push(patientID: String) async -> SyncReport {
        var report = SyncReport()
        var skipped: Set<Int64> = []
        while true {
            let items: [ClientStore.OutboxItem]
            do {
                items = try store.outbox(limit: batchSize + skipped.count).filter { !skipped.contains($0.sequence) }.prefix(batchSize).map { $0 }
            } catch {
                report.error = .invalidResponse(error.description)
                return report
            }
            guard !items.isEmpty else { break }
            let bundle = Self.transaction(items, patientID: patientID)
            let response: HTTPResponseData
            do {
                response = try await api.send("POST", "/fhir", json: bundle, token: token)
            } catch {
                report.error = error
                return report
            }
            if response.status == 200, let entries = response.json?["entry"]?.arrayValue, entries.count == items.count {
                for (item, entry) in zip(items, entries) {
                    let location = entry["response"]?["location"]?.stringValue ?? ""
                    let parts = location.split(separator: "/")
                    guard parts.count >= 4, let version = Int(parts[3]) else { continue }
                    do {
                        switch item.operation {
                        case .create:
                            try store.markSynced(id: item.record.id, serverID: String(parts[1]), version: version, now: clock.now())
                        case .withdraw:
                            try store.markWithdrawalSent(id: item.record.id, version: version, now: clock.now())
                        }
                        report.sent += 1
                    } catch {
                        report.error = .invalidResponse(error.description)
                        return report
                    }
                }
                continue
            }
            // 4xx naming one entry: keep that entry aside with the server's reason, send the rest again.
            let refusal = BedsideAPI.refusal(response)
            if (400...499).contains(response.status), response.status != 401, response.status != 429,
                let index = Self.entryIndex(in: response), items.indices.contains(index)
            {
                let reason: String
                if case .refused(_, _, let message, _) = refusal { reason = message } else { reason = refusal.description }
                try? store.markRejected(id: items[index].record.id, reason: reason, now: clock.now())
                report.rejected += 1
                skipped.insert(items[index].sequence)
                continue
            }
            report.error = refusal
            return report
        }
        try? store.setSetting("lastSync", String(clock.now()))
        return report
    }

    /// Fetches the patient's measurements the server has that this device does not (a nurse's entries, the
    /// history from before this device), incrementally from the last pull. Returns how many were new.
    public func pull(patientID: String) async -> (added: Int, error: APIError?) {
        let since = (try? store.setting("lastPull")).flatMap { Int64($0 ?? "") }
        // Overlap a minute: the server's clock decides lastUpdated, and ours may be behind.
        var path = "/fhir/Observation?patient=\(patientID)&_count=1000&_sort=_lastUpdated"
        if let since { path += "&_lastUpdated=gt" + FHIRDateTime.format(epochMilliseconds: since - 60_000) }
        var added = 0
        var newest = since ?? 0
        var next: String? = path
        while let url = next {
            let response: HTTPResponseData
            do {
                response = try await api.send("GET", url, token: token)
            } catch {
                return (added, error)
            }
            guard response.status == 200, let bundle = response.json else { return (added, BedsideAPI.refusal(response)) }
            let resources = (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
            for resource in resources {
                if let updated = resource["meta"]?["lastUpdated"]?.stringValue.flatMap(FHIRDateTime.init) {
                    newest = max(newest, updated.lowerBound)
                }
            }
            do {
                added += try store.mergeFromServer(resources.compactMap(ObservationReader.record(from:)), now: clock.now())
            } catch {
                return (added, .invalidResponse(error.description))
            }
            next = (bundle["link"]?.arrayValue ?? []).first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
                .flatMap { link in link.range(of: "/fhir/").map { "/fhir/" + link[$0.upperBound...] } }
        }
        try? store.setSetting("lastPull", String(newest))
        try? store.setSetting("lastSync", String(clock.now()))
        return (added, nil)
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

    static func transaction(_ items: [ClientStore.OutboxItem], patientID: String) -> JSONValue {
        let entries: [JSONValue] = items.map { item in
            let record = item.record
            switch item.operation {
            case .create:
                let observation = ObservationBuilder.observation(
                    kind: record.kind, values: record.values, effective: record.effectiveText, patientID: patientID, clientID: record.id,
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
                    kind: record.kind, values: record.values, effective: record.effectiveText, patientID: patientID, clientID: record.id,
                    note: record.note, status: "entered-in-error").objectValue ?? [:]
                let serverID = record.serverID ?? ""
                observation["id"] = .string(serverID)
                var request: JSONObject = ["method": "PUT", "url": .string("Observation/\(serverID)")]
                if let version = record.serverVersion { request["ifMatch"] = .string("W/\"\(version)\"") }
                return ["resource": .object(observation), "request": .object(request)]
            }
        }
        return ["resourceType": "Bundle", "type": "transaction", "entry": .array(entries)]
    }
}
