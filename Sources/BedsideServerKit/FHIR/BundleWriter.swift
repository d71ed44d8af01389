import BedsideCore
import Foundation

/// Builds Bundles as bytes, splicing stored resource JSON in without parsing it again.
enum BundleWriter {
    static func searchset(
        type: String, page: ResourcePage, query: ResourceQuery, parameters: [(String, String)], baseURL: String, now: Int64
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + page.resources.reduce(0) { $0 + $1.json.count + 120 })
        let selfURL = pageURL(type: type, parameters: parameters, offset: query.offset, baseURL: baseURL)
        var links: [JSONValue] = [["relation": "self", "url": .string(selfURL)]]
        if page.hasMore {
            let next = pageURL(type: type, parameters: parameters, offset: query.offset + query.count, baseURL: baseURL)
            links.append(["relation": "next", "url": .string(next)])
        }
        if query.offset > 0 {
            let previous = pageURL(type: type, parameters: parameters, offset: max(0, query.offset - query.count), baseURL: baseURL)
            links.append(["relation": "previous", "url": .string(previous)])
        }
        let head: JSONValue = [
            "resourceType": "Bundle",
            "id": .string(UUID().uuidString.lowercased()),
            "meta": ["lastUpdated": .string(FHIRDateTime.format(epochMilliseconds: now))],
            "type": "searchset",
            "link": .array(links),
        ]
        head.write(to: &out)
        // FHIR JSON forbids empty arrays: no matches means no `entry` at all.
        guard !page.resources.isEmpty else { return out }
        out.removeLast()  // reopen the object to append the entries
        out.append(contentsOf: ",\"entry\":[".utf8)
        for (index, resource) in page.resources.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"fullUrl\":".utf8)
            JSONValue.string("\(baseURL)/\(resource.type)/\(resource.id)").write(to: &out)
            out.append(contentsOf: ",\"resource\":".utf8)
            out.append(contentsOf: resource.json)
            out.append(contentsOf: ",\"search\":{\"mode\":\"match\"}}".utf8)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// The URL of a page: the same parameters with `_offset` set.
    static func pageURL(type: String, parameters: [(String, String)], offset: Int, baseURL: String) -> String {
        var items = parameters.filter { $0.0 != "_offset" }
        if offset > 0 { items.append(("_offset", String(offset))) }
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
}
