import BedsideCore

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
