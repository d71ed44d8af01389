import BedsideCore

/// One read the pull needs: a search or a resource, with the ETag we already hold.
struct ReadRequest: Sendable, Equatable {
    /// Relative to `/fhir/`, e.g. `Task?owner=Patient/1&status=requested` or `Questionnaire/phq-9`.
    var url: String
    var ifNoneMatch: String?
}

/// What came back for one read.
struct ReadResult: Sendable {
    var status: Int
    var etag: String?
    var resource: JSONValue?
    /// The OperationOutcome of a failed read.
    var outcome: JSONValue?
}

extension SyncEngine {
    /// Runs the reads in one round trip, as a FHIR batch Bundle; a server without batch support gets one
    /// GET each (with If-None-Match), so the client is not tied to the reference server.
    func perform(_ reads: [ReadRequest], into report: inout SyncReport) async -> Result<[ReadResult], APIError> {
        guard !reads.isEmpty else { return .success([]) }
        let entries: [JSONValue] = reads.map { read in
            var request: JSONObject = ["method": "GET", "url": .string(read.url)]
            if let etag = read.ifNoneMatch { request["ifNoneMatch"] = .string(etag) }
            return ["request": .object(request)]
        }
        let bundle: JSONValue = ["resourceType": "Bundle", "type": "batch", "entry": .array(entries)]
        let response: HTTPResponseData
        let body: JSONValue?
        do {
            (response, body) = try await exchange("POST", "/fhir", json: bundle, into: &report)
        } catch {
            return .failure(error)
        }
        if response.status == 200, body?["type"]?.stringValue == "batch-response" {
            let answers = body?["entry"]?.arrayValue ?? []
            guard answers.count == reads.count else {
                return .failure(.invalidResponse("the batch answer has \(answers.count) entries for \(reads.count) reads"))
            }
            return .success(answers.map { answer in
                let statusText = answer["response"]?["status"]?.stringValue ?? ""
                return ReadResult(
                    status: Int(statusText.prefix { $0.isNumber }) ?? 0, etag: answer["response"]?["etag"]?.stringValue,
                    resource: answer["resource"], outcome: answer["response"]?["outcome"])
            })
        }
        // Only a server that does not do batches gets the slow path; any other refusal is reported as it is.
        guard [400, 404, 405, 422, 501].contains(response.status), Self.refusesBatch(body) else {
            return .failure(BedsideAPI.refusal(response))
        }
        var results: [ReadResult] = []
        for read in reads {
            let single: HTTPResponseData
            let json: JSONValue?
            do {
                (single, json) = try await exchange(
                    "GET", "/fhir/" + read.url, headers: read.ifNoneMatch.map { [("If-None-Match", $0)] } ?? [], into: &report)
            } catch {
                return .failure(error)
            }
            if (500...599).contains(single.status) || single.status == 401 || single.status == 429 {
                return .failure(BedsideAPI.refusal(single))
            }
            results.append(ReadResult(
                status: single.status, etag: single.header("etag"), resource: single.status == 200 ? json : nil,
                outcome: single.status >= 400 ? json : nil))
        }
        return .success(results)
    }

    /// Whether an error answer to a batch says batches are not supported (not that something else failed).
    static func refusesBatch(_ body: JSONValue?) -> Bool {
        guard let outcome = body.flatMap(OperationOutcome.init(json:)) else { return true }
        return outcome.issues.contains { $0.code == "not-supported" || ($0.expression ?? "").contains("Bundle.type") }
    }
}
