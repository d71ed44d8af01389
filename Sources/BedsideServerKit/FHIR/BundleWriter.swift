import BedsideCore
import Foundation

/// Builds Bundles as bytes, splicing stored resource JSON in without parsing it again.
enum BundleWriter {
    static func searchset(
        type: String, page: ResourcePage, query: ResourceQuery, parameters: [(String, String)], nextCursor: String? = nil, baseURL: String,
        now: Int64
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + page.resources.reduce(0) { $0 + $1.json.count + 120 })
        let selfURL = pageURL(type: type, parameters: parameters, offset: query.offset, baseURL: baseURL)
        var links: [JSONValue] = [["relation": "self", "url": .string(selfURL)]]
        // `_count=0` asks for no entries: a next link would point at the same empty page forever.
        if page.hasMore, !page.resources.isEmpty {
            // After the last row (keyset paging, `SearchCursor`) when there is a cursor; else counted.
            let next =
                nextCursor.map { cursor in pageURL(type: type, parameters: parameters, cursor: cursor, baseURL: baseURL) }
                ?? pageURL(type: type, parameters: parameters, offset: query.offset + page.resources.count, baseURL: baseURL)
            links.append(["relation": "next", "url": .string(next)])
        }
        if query.offset > 0 {
            let previous = pageURL(type: type, parameters: parameters, offset: max(0, query.offset - query.count), baseURL: baseURL)
            links.append(["relation": "previous", "url": .string(previous)])
        }
        var head: JSONObject = [
            "resourceType": "Bundle",
            "id": .string(UUID().uuidString.lowercased()),
            "meta": ["lastUpdated": .string(FHIRDateTime.format(epochMilliseconds: now))],
            "type": "searchset",
        ]
        if let total = page.total { head["total"] = .number(total) }
        head["link"] = .array(links)
        JSONValue.object(head).write(to: &out)
        // FHIR JSON forbids empty arrays: no matches means no `entry` at all.
        let entries = page.resources.map { ($0, "match") } + page.included.map { ($0, "include") }
        guard !entries.isEmpty else { return out }
        let subset = query.elements.map(ElementSubset.init(names:))
        out.removeLast()  // reopen the object to append the entries
        out.append(contentsOf: ",\"entry\":[".utf8)
        for (index, (resource, mode)) in entries.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"fullUrl\":".utf8)
            JSONValue.string("\(baseURL)/\(resource.type)/\(resource.id)").write(to: &out)
            out.append(contentsOf: ",\"resource\":".utf8)
            if mode == "match", let subset, let type = SupportedResource(rawValue: resource.type) {
                out.append(contentsOf: subset.apply(to: resource.json, type: type))
            } else {
                out.append(contentsOf: resource.json)
            }
            out.append(contentsOf: ",\"search\":{\"mode\":\"\(mode)\"}}".utf8)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// The URL of a page: the same parameters with `_offset` set.
    static func pageURL(type: String, parameters: [(String, String)], offset: Int, baseURL: String) -> String {
        var items = parameters.filter { $0.0 != "_offset" }
        if offset > 0 { items.append(("_offset", String(offset))) }
        return pageURL(type: type, items: items, baseURL: baseURL)
    }

    /// The URL of the page after `cursor`: the same parameters with `_cursor` set (and no `_offset`).
    static func pageURL(type: String, parameters: [(String, String)], cursor: String, baseURL: String) -> String {
        pageURL(type: type, items: parameters.filter { $0.0 != "_offset" && $0.0 != "_cursor" } + [("_cursor", cursor)], baseURL: baseURL)
    }

    private static func pageURL(type: String, items: [(String, String)], baseURL: String) -> String {
        let query = items.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
        return query.isEmpty ? "\(baseURL)/\(type)" : "\(baseURL)/\(type)?\(query)"
    }

    static func percentEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~,:")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func transactionResponse(
        results: [FHIRService.WriteResult], baseURL: String, includeResources: Bool, now: Int64
    ) -> [UInt8] {
        let entries: [JSONValue] = results.map { result in
            let resource = result.resource
            var response: JSONObject = [
                "status": .string(result.created ? "201 Created" : "200 OK"),
                "location": .string("\(resource.type)/\(resource.id)/_history/\(resource.versionID)"),
                "etag": .string(ETag.make(version: resource.versionID)),
                "lastModified": .string(FHIRDateTime.format(epochMilliseconds: resource.lastUpdated)),
            ]
            if !result.created { response["outcome"] = OperationOutcome([
                OutcomeIssue(severity: .information, code: "duplicate", diagnostics: "Already stored; the existing resource is returned.")
            ]).json }
            var entry: JSONObject = ["fullUrl": .string("\(baseURL)/\(resource.type)/\(resource.id)")]
            if includeResources, let parsed = try? JSONParser.parse(resource.json) { entry["resource"] = parsed }
            entry["response"] = .object(response)
            return .object(entry)
        }
        let bundle: JSONValue = [
            "resourceType": "Bundle",
            "id": .string(UUID().uuidString.lowercased()),
            "meta": ["lastUpdated": .string(FHIRDateTime.format(epochMilliseconds: now))],
            "type": "transaction-response",
        ]
        guard !entries.isEmpty, var object = bundle.objectValue else { return bundle.serialized() }
        object["entry"] = .array(entries)
        return JSONValue.object(object).serialized()
    }

    /// A batch-response: one entry per request, in order. A 200 carries the resource (a searchset Bundle
    /// for a search) spliced in as stored; a 304 only its validators; an error its OperationOutcome.
    static func batchResponse(_ answers: [FHIRService.BatchEntryAnswer], now: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + answers.reduce(0) { $0 + ($1.answer?.body?.count ?? 0) + 200 })
        let head: JSONValue = [
            "resourceType": "Bundle",
            "id": .string(UUID().uuidString.lowercased()),
            "meta": ["lastUpdated": .string(FHIRDateTime.format(epochMilliseconds: now))],
            "type": "batch-response",
        ]
        head.write(to: &out)
        // FHIR JSON forbids empty arrays: an empty batch has no `entry` at all.
        guard !answers.isEmpty else { return out }
        out.removeLast()  // reopen the object to append the entries
        out.append(contentsOf: ",\"entry\":[".utf8)
        for (index, entry) in answers.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            if let body = entry.answer?.body {
                if let fullURL = entry.fullURL {
                    out.append(contentsOf: "\"fullUrl\":".utf8)
                    JSONValue.string(fullURL).write(to: &out)
                    out.append(UInt8(ascii: ","))
                }
                out.append(contentsOf: "\"resource\":".utf8)
                out.append(contentsOf: body)
                out.append(UInt8(ascii: ","))
            }
            var response: JSONObject = ["status": .string(StatusLine.text(entry.status))]
            if let answer = entry.answer {
                response["etag"] = .string(answer.etag)
                if let lastModified = answer.lastModified {
                    response["lastModified"] = .string(FHIRDateTime.format(epochMilliseconds: lastModified))
                }
            }
            if let outcome = entry.outcome { response["outcome"] = outcome.json }
            out.append(contentsOf: "\"response\":".utf8)
            JSONValue.object(response).write(to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }
}

/// `Bundle.entry.response.status`: the HTTP status line a plain request would have had.
enum StatusLine {
    static func text(_ status: Int) -> String {
        let reason: String
        switch status {
        case 200: reason = "OK"
        case 201: reason = "Created"
        case 304: reason = "Not Modified"
        case 400: reason = "Bad Request"
        case 401: reason = "Unauthorized"
        case 404: reason = "Not Found"
        case 405: reason = "Method Not Allowed"
        case 412: reason = "Precondition Failed"
        case 413: reason = "Content Too Large"
        case 415: reason = "Unsupported Media Type"
        case 422: reason = "Unprocessable Content"
        case 423: reason = "Locked"
        case 428: reason = "Precondition Required"
        case 429: reason = "Too Many Requests"
        case 500: reason = "Internal Server Error"
        case 503: reason = "Service Unavailable"
        default: return String(status)
        }
        return "\(status) \(reason)"
    }
}
