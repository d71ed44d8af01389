import BedsideCore

extension FHIRService {
    /// The patient compartment's types, in the order `$everything` gives them: the Patient first.
    static let everythingTypes: [SupportedResource] = [.patient, .observation, .questionnaireResponse, .task, .flag, .careTeam]

    /// `GET /fhir/Patient/[id]/$everything`: the Patient and everything in their compartment, for those
    /// who may read the patient (the patient, their care team), paged with `_count` and `_offset` over
    /// all of it as one list, with `Bundle.total`. Others get 404, as for a read.
    public func everything(patientID: String, parameters: [(String, String)], info: RequestInfo) async throws(ServerError) -> ReadAnswer {
        // Paged as a search is, by the same parser and limits; nothing else is taken.
        if let other = parameters.first(where: { !SearchRequest.ignoredParameters.contains($0.0) && !["_count", "_offset"].contains($0.0) }) {
            throw .badRequest("$everything takes _count and _offset only; '\(other.0)' is not supported.", expression: other.0, code: "not-supported")
        }
        let paging = try SearchRequest.parse(type: .patient, parameters: parameters)
        let count = paging.count
        let offset = paging.offset
        let now = clock.now()
        try AccessPolicy.requireScope(.read, on: .patient, principal: info.principal)
        // A backend client gets the types its scopes let it read; a person all of the compartment.
        let types = Self.everythingTypes.filter { AccessPolicy.mayRead($0, patientID: patientID, principal: info.principal) }
        guard FHIRSyntax.isValidID(patientID), AccessPolicy.mayRead(.patient, patientID: patientID, principal: info.principal) else {
            await auditRecorder.record(info.audit("everything", type: "Patient", id: patientID, outcome: "failure", status: 404, at: now))
            throw Self.notFound("Patient", patientID)
        }
        let page = try await storeRead { db in
            var resources: [StoredResource] = []
            var total = 0
            var skip = offset
            var bytes = 0
            var cutShort = false
            // No such patient (a backend client may name any id): nothing is there to give.
            guard try db.resource(type: "Patient", id: patientID) != nil else { return nil as ResourcePage? }
            for type in types {
                var query = ResourceQuery(type: type.rawValue)
                if type == .patient { query.ids = [patientID] } else { query.patientIDs = [patientID] }
                let matching = try db.total(matching: query)
                total += matching
                guard !cutShort, resources.count < count else { continue }
                if skip >= matching {
                    skip -= matching
                    continue
                }
                query.offset = skip
                query.count = count - resources.count
                query.byteBudget = max(1, ServerLimits.pageBytes - bytes)
                skip = 0
                let part = try db.search(query)
                resources += part.resources
                bytes += part.resources.reduce(0) { $0 + $1.json.count }
                // A page cut short by its byte budget ends here; the next link goes on from it.
                if part.hasMore, resources.count < count { cutShort = true }
            }
            return ResourcePage(resources: resources, hasMore: offset + resources.count < total, total: total)
        }
        guard let page else {
            await auditRecorder.record(info.audit("everything", type: "Patient", id: patientID, outcome: "failure", status: 404, at: now))
            throw Self.notFound("Patient", patientID)
        }
        let recorded = await auditRecorder.record(info.audit("everything", type: "Patient", id: patientID, patientID: patientID, status: 200, at: now))
        guard recorded else { throw Self.unrecorded }
        var query = ResourceQuery(type: "Patient")
        query.count = count
        query.offset = offset
        let bundle = BundleWriter.searchset(
            type: "Patient/\(patientID)/$everything", page: page, query: query, parameters: parameters, baseURL: info.baseURL, now: now)
        let etag = ETag.searchset(type: "Patient/\(patientID)/$everything", parameters: parameters, query: query, page: page)
        return ReadAnswer(etag: etag, lastModified: nil, body: bundle)
    }
}
