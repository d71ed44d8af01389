import BedsideCore
import Foundation

/// What the clinician kiosk asks the server, beside the patient app's sync (`SyncEngine`): the alert
/// queue's Flag searches, page by page; the patients behind the alerts; one patient's recent
/// measurements and answers; and a triage decision written into a Flag with If-Match. Only HTTP and
/// FHIR here: what the kiosk makes of the answers is `KioskRuntime`'s.
public struct KioskQueries: Sendable {
    public let api: BedsideAPI
    public let token: String

    public init(api: BedsideAPI, token: String) {
        self.api = api
        self.token = token
    }

    /// The most pages of one Flag search read: 100 pages of 1,000 alerts is far more than a care team has open.
    public static let maximumFlagPages = 100

    /// The Flags of a search, every page, with when the server answered the first.
    public struct FlagPages: Sendable {
        public var flags: [JSONValue]
        /// Patients the search brought along (`_include=Flag:patient`, search mode include), by id.
        public var patients: [String: JSONValue] = [:]
        public var pages: Int
        /// The server's time for the first page (its Bundle's `meta.lastUpdated`).
        public var answeredAt: Int64?
    }

    /// A search answered 304 when `etag` still holds; else the first page, to hand to `flags(_:first:)`.
    public func firstPage(_ path: String, ifNoneMatch etag: String?) async throws(APIError) -> HTTPResponseData {
        try await api.send("GET", path, token: token, headers: etag.map { [("If-None-Match", $0)] } ?? [])
    }

    /// Every page of a Flag search (the server gives at most 1,000 a page), with the Patients an
    /// `_include=Flag:patient` brought; anything else in the Bundle is not a Flag and is left out.
    public func flags(_ path: String, first: HTTPResponseData? = nil) async throws(APIError) -> FlagPages {
        var next: String? = path
        var result = FlagPages(flags: [], pages: 0, answeredAt: nil)
        var answer = first
        while let url = next {
            let response: HTTPResponseData
            if let given = answer { response = given } else { response = try await api.send("GET", url, token: token) }
            answer = nil
            guard response.status == 200, let bundle = response.json else { throw BedsideAPI.refusal(response) }
            if result.pages == 0 { result.answeredAt = bundle.lastUpdatedMilliseconds }
            for entry in bundle["entry"]?.arrayValue ?? [] {
                guard let resource = entry["resource"] else { continue }
                if entry["search"]?["mode"]?.stringValue == "include" {
                    if resource["resourceType"]?.stringValue == "Patient", let id = resource["id"]?.stringValue, FHIRSyntax.isValidID(id) {
                        result.patients[id] = resource
                    }
                } else if resource["resourceType"]?.stringValue == "Flag" {
                    result.flags.append(resource)
                }
            }
            result.pages += 1
            next = SyncEngine.nextPage(bundle)
            // Every page is held in memory: a server that never stops sending next links is not followed for ever.
            if next != nil, result.pages >= Self.maximumFlagPages {
                throw .invalidResponse("the server sent more than \(Self.maximumFlagPages) pages of alerts")
            }
        }
        return result
    }

    /// GETs in one batch; each entry's resource (an OperationOutcome where one failed). Throws when the
    /// batch as a whole was not answered.
    public func batch(_ urls: [String]) async throws(APIError) -> [JSONValue] {
        guard !urls.isEmpty else { return [] }
        let batch: JSONValue = [
            "resourceType": "Bundle", "type": "batch",
            "entry": .array(urls.map { ["request": ["method": "GET", "url": .string($0)]] }),
        ]
        let answer = try await api.send("POST", "/fhir", json: batch, token: token)
        guard answer.status == 200 else { throw BedsideAPI.refusal(answer) }
        guard let entries = answer.json?["entry"]?.arrayValue, entries.count == urls.count else {
            throw .invalidResponse("the server's batch answer does not hold one entry per request")
        }
        return entries.map { $0["resource"] ?? [:] }
    }

    /// As `batch`, with an empty object for every entry when the batch failed: for what is only context.
    public func batchOrEmpty(_ urls: [String]) async -> [JSONValue] {
        (try? await batch(urls)) ?? urls.map { _ in [:] }
    }

    /// Patients by id, in batches of 100, in the order asked; an empty object for one not read.
    public func patients(_ ids: [String]) async -> [(id: String, patient: JSONValue)] {
        var result: [(id: String, patient: JSONValue)] = []
        for start in stride(from: 0, to: ids.count, by: 100) {
            let chunk = Array(ids[start..<min(start + 100, ids.count)])
            result += zip(chunk, await batchOrEmpty(chunk.map { "Patient/\($0)" })).map { ($0, $1) }
        }
        return result
    }

    /// Searches for one patient's measurements since `since`, of every kind (or of `kind`): the newest
    /// 1,000 (one page; a wearable's readings every few minutes are more), so a chart misses the oldest
    /// days rather than the newest. `records(in:)` puts them in time order.
    public static func recentObservations(patientID: String, kind: MeasurementKind? = nil, since: Int64) -> String {
        var url = "Observation?patient=\(patientID)"
        if let kind { url += "&code=" + codes(of: kind) }
        return url + "&date=ge\(FHIRDateTime.format(epochMilliseconds: since))&_sort=-date&_count=1000"
    }

    /// A search for the patient's latest reading of `kind`, however old.
    public static func latestObservation(patientID: String, kind: MeasurementKind) -> String {
        "Observation?patient=\(patientID)&code=\(codes(of: kind))&_sort=-date&_count=1"
    }

    /// A search for the patient's latest questionnaire answers.
    public static func latestResponses(patientID: String, count: Int = 5) -> String {
        "QuestionnaireResponse?patient=\(patientID)&_sort=-authored&_count=\(count)"
    }

    /// Every LOINC code of a kind, as one token search value (`|` escaped).
    private static func codes(of kind: MeasurementKind) -> String {
        kind.loincCodes.map { "http://loinc.org%7C\($0)" }.joined(separator: ",")
    }

    /// The measurements in a search answer that count (not withdrawn), oldest first.
    public static func records(in bundle: JSONValue) -> [MeasurementRecord] {
        (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }.compactMap(ObservationReader.record(from:))
            .filter { $0.syncState != .withdrawn }.sorted { $0.effectiveAt < $1.effectiveAt }
    }

    /// The QuestionnaireResponses of a search answer as (form title, authored), newest first as the
    /// search gave them; the titles are read in one more batch, by the forms' canonical urls.
    public func answers(in bundle: JSONValue) async -> [(title: String, authored: Int64)] {
        let responses = (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
        let canonicals = Array(Set(responses.compactMap { $0["questionnaire"]?.stringValue.map(SyncEngine.unversioned) })).sorted()
        let forms = await batchOrEmpty(
            canonicals.map { "Questionnaire?url=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) })
        var titles: [String: String] = [:]
        for (canonical, bundle) in zip(canonicals, forms) {
            let form = bundle["entry"]?.arrayValue?.first?["resource"]
            if let title = form?["title"]?.stringValue ?? form?["name"]?.stringValue { titles[canonical] = title }
        }
        return responses.compactMap { response in
            guard let authored = response["authored"]?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound else { return nil }
            let canonical = response["questionnaire"]?.stringValue.map(SyncEngine.unversioned) ?? ""
            return (titles[canonical] ?? canonical, authored)
        }
    }

    /// The Flag as it is now.
    public func flag(_ id: String) async throws(APIError) -> JSONValue {
        try await api.read("Flag", id: id, token: token)
    }

    /// Writes `flag` over the version the nurse saw; a 412 means someone else changed it first.
    public func write(flag: JSONValue, id: String, seenVersion: Int) async throws(APIError) -> HTTPResponseData {
        try await api.send("PUT", "/fhir/Flag/\(id)", json: flag, token: token, headers: [("If-Match", "W/\"\(seenVersion)\"")])
    }
}
