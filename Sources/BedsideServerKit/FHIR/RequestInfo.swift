/// What the FHIR layer needs to know about the request in hand.
public struct RequestInfo: Sendable {
    public var principal: Principal
    public var remoteAddress: String?
    /// Method and path, without the query.
    public var request: String
    /// `https://host:port/fhir`, for fullUrl and paging links.
    public var baseURL: String

    func audit(
        _ action: String, type: String?, id: String? = nil, patientID: String? = nil, outcome: String = "success",
        status: Int, at time: Int64
    ) -> AuditEvent {
        AuditEvent(
            at: time, actorID: principal.accountID, actorRole: principal.role.rawValue, action: action, resourceType: type,
            resourceID: id, patientID: patientID, outcome: outcome, httpStatus: status, remoteAddress: remoteAddress,
            request: request)
    }
}

/// Who may see and change what (DESIGN.md "Roles"). Anything not allowed looks like it does not exist.
enum AccessPolicy {
    /// Whether the principal may read a resource of `type` in `patientID`'s compartment.
    static func mayRead(_ type: SupportedResource, patientID: String?, principal: Principal) -> Bool {
        guard type.isPatientData else { return principal.role != .admin }
        guard let patientID else { return false }
        switch principal.role {
        case .patient: return patientID == principal.patientID
        case .clinician: return principal.teamPatientIDs.contains(patientID)
        case .admin: return false
        }
    }

    /// The compartments a search may look in: nil for no restriction (non-patient data).
    static func searchablePatients(_ type: SupportedResource, principal: Principal) -> [String]? {
        guard type.isPatientData else { return principal.role == .admin ? [] : nil }
        switch principal.role {
        case .patient: return principal.patientID.map { [$0] } ?? []
        case .clinician: return principal.teamPatientIDs.sorted()
        case .admin: return []
        }
    }

    /// Resources of `type` the principal may see by id, where their role limits that: a patient sees
    /// only their own care team's Practitioners. nil: no such limit.
    static func visibleIDs(_ type: SupportedResource, principal: Principal) -> Set<String>? {
        guard type == .practitioner, principal.role == .patient else { return nil }
        return principal.careTeamPractitionerIDs
    }

    static func mayCreate(_ type: SupportedResource, role: Role) -> Bool {
        switch (type, role) {
        case (.observation, .patient), (.observation, .clinician), (.questionnaireResponse, .patient),
            (.questionnaireResponse, .clinician):
            true
        default: false
        }
    }

    static func mayUpdate(_ type: SupportedResource, role: Role) -> Bool {
        if mayCreate(type, role: role) { return true }
        switch (type, role) {
        case (.flag, .clinician), (.task, .clinician): return true
        default: return false
        }
    }
}
