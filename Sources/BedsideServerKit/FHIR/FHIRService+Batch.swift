import BedsideCore

extension FHIRService {
    /// At most this many entries in one batch, so a single request cannot ask for unbounded work.
    public static let batchEntryLimit = ServerLimits.batchEntries

    /// `POST /fhir`: a transaction Bundle (writes, all or nothing) or a batch Bundle (reads, each on its own).
    public func postBundle(body: [UInt8], preferRepresentation: Bool, info: RequestInfo) async throws(ServerError) -> [UInt8] {
        let bundle = try await read(body, caller: info.principal.accountID)
        guard bundle["resourceType"]?.stringValue == "Bundle" else {
            throw .invalid(OperationOutcome(code: "invalid", diagnostics: "POST /fhir takes a Bundle.", expression: "Bundle.resourceType"))
        }
        switch bundle["type"]?.stringValue {
        case "transaction":
            return try await transaction(bundle, preferRepresentation: preferRepresentation, info: info)
        case "batch":
            return try await batch(bundle, info: info)
        default:
            throw .invalid(OperationOutcome(
                code: "not-supported", diagnostics: "Only Bundle.type 'transaction' and 'batch' are supported.", expression: "Bundle.type"))
        }
    }

    /// One entry's answer in a batch-response.
    struct BatchEntryAnswer: Sendable {
        var status: Int
        /// For a read: where the resource lives.
        var fullURL: String?
        /// For 200 and 304.
        var answer: ReadAnswer?
        /// For errors.
        var outcome: OperationOutcome?
    }

    /// A batch of GETs: each entry is answered on its own, in order, through the same `read` and `search`
    /// as a plain GET (same access rules, parsing and audit), so one round trip can carry a whole pull.
    /// A failing entry fails only itself.
    func batch(_ bundle: JSONValue, info: RequestInfo) async throws(ServerError) -> [UInt8] {
        if let entry = bundle["entry"], entry.arrayValue == nil {
            throw .badRequest("Bundle.entry must be an array.", expression: "Bundle.entry")
        }
        let rawEntries = bundle["entry"]?.arrayValue ?? []
        guard rawEntries.count <= Self.batchEntryLimit else {
            throw .tooCostly(
                "A batch holds at most \(Self.batchEntryLimit) entries; this one has \(rawEntries.count). Send it as several batches.")
        }
        var answers: [BatchEntryAnswer] = []
        answers.reserveCapacity(rawEntries.count)
        var bytes = 0
        for (index, raw) in rawEntries.enumerated() {
            guard bytes <= ServerLimits.batchResponseBytes else {
                let refusal = ServerError.tooCostly(
                    "The answer to this batch reached \(ServerLimits.batchResponseBytes) bytes before this entry; ask for it again.")
                answers.append(BatchEntryAnswer(status: refusal.status, outcome: refusal.outcome))
                continue
            }
            do throws(ServerError) {
                let answer = try await batchEntry(raw, path: "Bundle.entry[\(index)]", info: info)
                bytes += answer.answer?.body?.count ?? 0
                answers.append(answer)
            } catch {
                // A broken store is not one entry's problem: the whole request fails (500) and is logged.
                if case .storage = error { throw error }
                answers.append(BatchEntryAnswer(status: error.status, outcome: error.outcome))
            }
        }
        return BundleWriter.batchResponse(answers, now: clock.now())
    }

    private func batchEntry(_ raw: JSONValue, path: String, info: RequestInfo) async throws(ServerError) -> BatchEntryAnswer {
        guard let request = raw["request"], let method = request["method"]?.stringValue, let url = request["url"]?.stringValue else {
            throw .badRequest("Each entry needs request.method and request.url.", expression: "\(path).request")
        }
        guard method == "GET" else {
            throw .badRequest(
                "batch supports GET entries only; use a transaction for writes.", expression: "\(path).request.method",
                code: "not-supported")
        }
        let ifNoneMatch = request["ifNoneMatch"]?.stringValue
        let target = try BatchTarget(url: url, baseURL: info.baseURL, expression: "\(path).request.url")
        var entryInfo = info
        // What a plain GET would record, marked as coming through a batch.
        entryInfo.request = "GET /fhir/\(target.path) (batch)"
        switch target.kind {
        case .search(let type, let parameters):
            let answer = try await search(type: type, parameters: parameters, ifNoneMatch: ifNoneMatch, info: entryInfo)
            return BatchEntryAnswer(status: answer.status, answer: answer)
        case .read(let type, let id, let version, let parameters):
            let answer = try await read(type: type, id: id, version: version, parameters: parameters, ifNoneMatch: ifNoneMatch, info: entryInfo)
            return BatchEntryAnswer(status: answer.status, fullURL: "\(info.baseURL)/\(type)/\(id)", answer: answer)
        }
    }
}

/// A batch entry's `request.url`, read the way the router reads a GET's path and query.
struct BatchTarget: Sendable {
    enum Kind: Sendable {
        case search(type: String, parameters: [(String, String)])
        case read(type: String, id: String, version: Int?, parameters: [(String, String)])
    }

    var kind: Kind
    /// The path below `/fhir/`, without the query (queries can hold identifiers; they stay out of the audit).
    var path: String

    /// `Type?query`, `Type/id` or `Type/id/_history/version`, relative to the server's base (an absolute URL
    /// is accepted only when it is this server's own base URL).
    init(url: String, baseURL: String, expression: String) throws(ServerError) {
        var relative = Substring(url)
        if relative.hasPrefix(baseURL + "/") {
            relative = relative.dropFirst(baseURL.count + 1)
        } else if relative.prefix(while: { $0 != "?" }).contains("://") {
            // Only the path can name another server; a query may well carry a URL (code=http://loinc.org|…).
            throw .badRequest(
                "request.url must be relative to this server, e.g. 'Observation?patient=...' or 'Questionnaire/<id>'.",
                expression: expression)
        }
        while relative.hasPrefix("/") { relative = relative.dropFirst() }
        let pathPart = relative.prefix { $0 != "?" }
        let query = relative.count > pathPart.count ? String(relative.dropFirst(pathPart.count + 1)) : nil
        let segments = pathPart.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        path = segments.joined(separator: "/")
        switch segments.count {
        case 1:
            kind = .search(type: segments[0], parameters: SearchRequest.parameters(query: query))
        case 2:
            kind = .read(type: segments[0], id: segments[1], version: nil, parameters: SearchRequest.parameters(query: query))
        case 4 where segments[2] == "_history":
            guard let version = Int(segments[3]) else { throw .notFound("No such version.") }
            kind = .read(type: segments[0], id: segments[1], version: version, parameters: SearchRequest.parameters(query: query))
        default:
            throw .badRequest(
                "request.url must be 'Type?parameters', 'Type/id' or 'Type/id/_history/version'.", expression: expression)
        }
    }
}
