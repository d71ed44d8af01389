import BedsideCore
import BedsideStore
import Foundation

/// The pull: everything the server has for this patient that the device does not, in one round trip
/// when nothing changed.
///
/// One batch carries the patient's Observation search (incremental on `_lastUpdated`: with nothing new
/// it is an empty page), the open assignments (Task) and a read of each cached questionnaire, both with
/// the ETag of the last answer, so unchanged ones come back as 304 without a body. Only what changed costs more: further pages of new
/// measurements, or a questionnaire not seen before.
///
/// The cursor is the server's own time at the last pull minus a minute, never this computer's clock and
/// never simply the newest `lastUpdated` seen: a write stamped just before our read may commit just
/// after it, and a minute covers that. Anything stamped before the cursor was visible when we read.
extension SyncEngine {
    enum PullSetting {
        static let cursor = "pull.cursor"
        /// How far behind the server's clock the cursor stays, for writes that commit after their stamp.
        static let overlap: Int64 = 60_000
        static let taskETag = "pull.tasks.etag"
    }

    func pull(patientID: String, into report: inout SyncReport) async {
        do throws(PullFailure) {
            try await pullAll(patientID: patientID, into: &report)
            try? store.setSetting("lastSync", String(clock.now()))
            if let offset = report.serverClockOffset { try? store.setSetting("clockOffset", String(offset)) }
        } catch {
            report.error = error.error
        }
    }

    struct PullFailure: Error {
        var error: APIError
        init(_ error: APIError) { self.error = error }
    }

    private func setting(_ key: String) -> String? { (try? store.setting(key)) ?? nil }

    private func pullAll(patientID: String, into report: inout SyncReport) async throws(PullFailure) {
        let since = setting(PullSetting.cursor).flatMap { Int64($0) }
        var observationQuery = "Observation?patient=\(patientID)&_count=1000&_sort=_lastUpdated"
        if let since { observationQuery += "&_lastUpdated=gt" + FHIRDateTime.format(epochMilliseconds: since) }
        let taskQuery = "Task?owner=Patient/\(patientID)&status=requested&_count=100"
        let questionnaires = (try? store.cachedVersions(type: "Questionnaire")) ?? [:]
        let questionnaireIDs = questionnaires.keys.sorted()

        var reads = [
            ReadRequest(url: observationQuery, ifNoneMatch: nil),
            ReadRequest(url: taskQuery, ifNoneMatch: setting(PullSetting.taskETag)),
        ]
        reads += questionnaireIDs.map { ReadRequest(url: "Questionnaire/\($0)", ifNoneMatch: "W/\"\(questionnaires[$0] ?? 0)\"") }
        // Value sets the cached forms take answers from: those kept are checked like the forms; those
        // not found yet are searched for again (an administrator may have loaded them since).
        let valueSets = (try? store.cachedVersions(type: "ValueSet")) ?? [:]
        let valueSetIDs = valueSets.keys.sorted()
        reads += valueSetIDs.map { ReadRequest(url: "ValueSet/\($0)", ifNoneMatch: "W/\"\(valueSets[$0] ?? 0)\"") }
        let unresolved = unresolvedValueSets().sorted()
        reads += unresolved.map { ReadRequest(url: Self.valueSetSearch($0), ifNoneMatch: nil) }
        let results = try unwrap(await perform(reads, into: &report))
        let readAt = report.serverTime

        // Measurements: merge, follow further pages, move the cursor.
        let observations = results[0]
        switch observations.status {
        case 200:
            var bundle = observations.resource
            var newest = since ?? 0
            var pages = 0
            while let page = bundle {
                pages += 1
                let resources = (page["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
                for resource in resources {
                    if let updated = resource.lastUpdatedMilliseconds { newest = max(newest, updated) }
                }
                do {
                    report.received += try store.mergeFromServer(resources.compactMap(ObservationReader.record(from:)), now: clock.now())
                } catch {
                    throw PullFailure(.invalidResponse(error.description))
                }
                guard let next = Self.nextPage(page) else { break }
                // A server that never stops sending next links (or sends one back to itself) is not followed
                // for ever: what came so far is kept, and the cursor stays put so nothing is skipped.
                guard pages < Self.maximumPages else {
                    throw PullFailure(.invalidResponse("the server sent more than \(Self.maximumPages) pages of measurements"))
                }
                bundle = try await get(next, into: &report)
            }
            // Without the server's time, the newest stamp seen (less the overlap) is the best there is.
            let cursor = readAt.map { $0 - PullSetting.overlap } ?? (newest - PullSetting.overlap)
            try? store.setSetting(PullSetting.cursor, String(max(since ?? 0, cursor)))
        default:
            throw PullFailure(Self.failure(observations))
        }

        // Assignments: the open Tasks replace what was cached; questionnaires they point at come down.
        let tasks = results[1]
        var wanted = Set(questionnaireIDs)
        switch tasks.status {
        case 304: break
        case 200:
            let resources = (tasks.resource?["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
            do {
                try store.cache(resources, replacingAllOf: "Task")
            } catch {
                throw PullFailure(.invalidResponse(error.description))
            }
            wanted = Set(resources.compactMap(Self.questionnaireID(of:)))
            try? store.setSetting(PullSetting.taskETag, tasks.etag)
        default:
            throw PullFailure(Self.failure(tasks))
        }

        var changed: [JSONValue] = []
        var gone: [String] = []
        let questionnaireResults = results.dropFirst(2).prefix(questionnaireIDs.count)
        for (id, result) in zip(questionnaireIDs, questionnaireResults) {
            switch result.status {
            case 200: if let resource = result.resource { changed.append(resource) }
            case 304: break
            case 404, 410: gone.append(id)
            default: throw PullFailure(Self.failure(result))
            }
        }
        gone += questionnaireIDs.filter { !wanted.contains($0) }
        let missing = wanted.subtracting(questionnaireIDs).sorted()
        if !missing.isEmpty {
            let fetched = try unwrap(await perform(missing.map { ReadRequest(url: "Questionnaire/\($0)", ifNoneMatch: nil) }, into: &report))
            for result in fetched where result.status == 200 {
                if let resource = result.resource { changed.append(resource) }
            }
        }
        do {
            try store.cache(changed)
            try store.uncache(type: "Questionnaire", ids: gone)
        } catch {
            throw PullFailure(.invalidResponse(error.description))
        }

        let valueSetResults = Array(results.dropFirst(2 + questionnaireIDs.count))
        try pullValueSets(
            kept: valueSetIDs, keptResults: Array(valueSetResults.prefix(valueSetIDs.count)),
            searchResults: Array(valueSetResults.dropFirst(valueSetIDs.count)))
        // Forms that came down just now may need value sets of their own: one more round trip, only then.
        // (Only then: reading and parsing every kept form is not work for a pull that brought none.)
        guard !missing.isEmpty else { return }
        let stillMissing = unresolvedValueSets().subtracting(unresolved).sorted()
        if !stillMissing.isEmpty {
            let fetched = try unwrap(await perform(stillMissing.map { ReadRequest(url: Self.valueSetSearch($0), ifNoneMatch: nil) }, into: &report))
            try pullValueSets(kept: [], keptResults: [], searchResults: fetched)
        }
    }

    /// Keeps value sets that changed or were found, forgets those gone from the server.
    private func pullValueSets(
        kept: [String], keptResults: [ReadResult], searchResults: [ReadResult]
    ) throws(PullFailure) {
        var changed: [JSONValue] = []
        var gone: [String] = []
        for (id, result) in zip(kept, keptResults) {
            switch result.status {
            case 200: if let resource = result.resource { changed.append(resource) }
            case 304: break
            case 404, 410: gone.append(id)
            default: throw PullFailure(Self.failure(result))
            }
        }
        for result in searchResults {
            // A search the server cannot answer leaves the question as free text; it is not a failed sync.
            guard result.status == 200 else { continue }
            changed += (result.resource?["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
                .filter { $0["resourceType"]?.stringValue == "ValueSet" }
        }
        do {
            try store.cache(changed)
            try store.uncache(type: "ValueSet", ids: gone)
        } catch {
            throw PullFailure(.invalidResponse(error.description))
        }
    }

    /// Canonical URLs (without a version) that cached forms take answers from and no kept value set has.
    func unresolvedValueSets() -> Set<String> {
        let forms = ((try? store.cachedResources(type: "Questionnaire")) ?? []).compactMap { try? Questionnaire(json: $0.resource) }
        let wanted = Set(forms.flatMap(\.externalValueSets).map(Self.unversioned))
        let have = Set(((try? store.cachedResources(type: "ValueSet")) ?? []).compactMap { $0.resource["url"]?.stringValue })
        return wanted.subtracting(have)
    }

    public static func unversioned(_ canonical: String) -> String {
        canonical.split(separator: "|", maxSplits: 1).first.map(String.init) ?? canonical
    }

    static func valueSetSearch(_ canonical: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "ValueSet?url=" + (canonical.addingPercentEncoding(withAllowedCharacters: allowed) ?? canonical)
    }

    private func unwrap(_ result: Result<[ReadResult], APIError>) throws(PullFailure) -> [ReadResult] {
        switch result {
        case .success(let results): return results
        case .failure(let error): throw PullFailure(error)
        }
    }

    private func get(_ path: String, into report: inout SyncReport) async throws(PullFailure) -> JSONValue {
        let response: HTTPResponseData
        let body: JSONValue?
        do {
            (response, body) = try await exchange("GET", path, into: &report)
        } catch {
            throw PullFailure(error)
        }
        guard response.status == 200, let body else { throw PullFailure(BedsideAPI.refusal(response)) }
        return body
    }

    /// The most pages of one search followed in one pull: 200 pages of 1,000 are years of readings.
    public static let maximumPages = 200

    /// The `next` link of a searchset, as a path on this server.
    public static func nextPage(_ bundle: JSONValue) -> String? {
        (bundle["link"]?.arrayValue ?? []).first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
            .flatMap { link in link.range(of: "/fhir/").map { "/fhir/" + link[$0.upperBound...] } }
    }

    /// `Task.focus` -> `Questionnaire/<id>` (a canonical URL or a contained questionnaire is not fetched).
    public static func questionnaireID(of task: JSONValue) -> String? {
        guard let reference = task["focus"]?["reference"]?.stringValue else { return nil }
        let parts = reference.split(separator: "/")
        guard parts.count == 2, parts[0] == "Questionnaire" else { return nil }
        return String(parts[1])
    }

    static func failure(_ result: ReadResult) -> APIError {
        let outcome = result.outcome.flatMap(OperationOutcome.init(json:))
        return .refused(
            status: result.status, code: outcome?.issues.first?.code ?? "unknown",
            message: outcome?.issues.first?.diagnostics ?? "The server answered \(result.status).", retryAfter: nil)
    }
}
