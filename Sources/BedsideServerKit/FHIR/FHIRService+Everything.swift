import BedsideCore

extension FHIRService {
    /// The patient compartment's types, in the order `$everything` gives them: the Patient first.
    static let everythingTypes: [SupportedResource] = [.patient, .observation, .questionnaireResponse, .task, .flag]

    /// `GET /fhir/Patient/[id]/$everything`: the Patient and everything in their compartment, for those
    /// who may read the patient (the patient, their care team), paged with `_count` and `_offset` over
    /// all of it as one list, with `Bundle.total`. Others get 404, as for a read.
    public func everything(patientID: String, parameters: [(String, String)], info: RequestInfo) async throws(ServerError) -> ReadAnswer {
        var count = ServerLimits.defaultPageSize
        var offset = 0
        for (name, value) in parameters where !SearchRequest.ignoredParameters.contains(name) {
            switch name {
            case "_count":
                guard let number = Int(value), number >= 0 else { throw .badRequest("_count must be a whole number.", expression: name) }
                count = min(number, ServerLimits.maximumPageSize)
            case "_offset":
                guard let number = Int(value), number >= 0, number <= ServerLimits.maximumOffset else {
                    throw .badRequest("_offset must be a whole number up to \(ServerLimits.maximumOffset).", expression: name, code: "too-costly")
                }
                offset = number
            default:
                throw .badRequest("$everything takes _count and _offset only; '\(name)' is not supported.", expression: name, code: "not-supported")
            }
        }
        let now = clock.now()
        guard FHIRSyntax.isValidID(patientID), AccessPolicy.mayRead(.patient, patientID: patientID, principal: info.principal) else {
            await auditRecorder.record(info.audit("everything", type: "Patient", id: patientID, outcome: "failure", status: 404, at: now))
            throw Self.notFound("Patient", patientID)
        }
        let page = try await storeRead { [count, offset] db in
            var resources: [StoredResource] = []
            var total = 0
            var skip = offset
            var bytes = 0
            var cutShort = false
            for type in Self.everythingTypes {
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

extension FHIRService {
    /// What `_include` and `_revinclude` bring along with a page, under the same access rules as a search
    /// of their own: the matches' Patients the caller may read; or, on a Patient search, the resources
    /// of each named type that point at the matching patients (up to a page's maximum each).
    static func included(for page: ResourcePage, query: ResourceQuery, principal: Principal, db: any StoreReading) throws -> [StoredResource] {
        var included: [StoredResource] = []
        if query.includePatients {
            let ids = Set(page.resources.compactMap(\.patientID)).filter { AccessPolicy.mayRead(.patient, patientID: $0, principal: principal) }
            if !ids.isEmpty {
                var patients = ResourceQuery(type: SupportedResource.patient.rawValue)
                patients.ids = ids.sorted()
                patients.count = ids.count
                included += try db.search(patients).resources
            }
        }
        let patientIDs = page.resources.map(\.id)
        for name in query.revinclude where !patientIDs.isEmpty {
            guard let type = SupportedResource(rawValue: name) else { continue }
            var pointing = ResourceQuery(type: name)
            let allowed = AccessPolicy.searchablePatients(type, principal: principal).map(Set.init)
            pointing.patientIDs = patientIDs.filter { allowed?.contains($0) ?? true }
            pointing.count = ServerLimits.maximumPageSize
            pointing.byteBudget = ServerLimits.pageBytes
            included += try db.search(pointing).resources
        }
        return included
    }
}
