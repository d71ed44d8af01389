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
            at: time, actorID: principal.accountID, actorRole: principal.auditRole, action: action, resourceType: type,
            resourceID: id, patientID: patientID, outcome: outcome, httpStatus: status, remoteAddress: remoteAddress,
            request: request)
    }
}

/// Who may see and change what (DESIGN.md "Roles"). Anything not allowed looks like it does not exist.
/// A backend client acts within its SMART system scopes, on every patient; a type it has no scope for
/// is refused with 403 before anything is looked up (`requireScope`), so nothing is revealed.
enum AccessPolicy {
    /// Throws 403 when a backend client has no scope for `permission` on `type`; accounts pass.
    static func requireScope(_ permission: SMARTScopes.Permission, on type: SupportedResource, principal: Principal) throws(ServerError) {
        if type.isClientOnly, principal.client == nil {
            throw .notFound("There are no \(type.rawValue) resources for this account.")
        }
        guard let client = principal.client, !client.scopes.allows(permission, on: type.rawValue) else { return }
        let verb = switch permission {
        case .create: "create"
        case .read: "read"
        case .update: "update"
        case .delete: "delete"
        case .search: "search"
        }
        throw .forbidden("This client's token has no scope to \(verb) \(type.rawValue) (e.g. system/\(type.rawValue).\(permission.rawValue)).")
    }

    /// Whether the principal may read a resource of `type` in `patientID`'s compartment.
    static func mayRead(_ type: SupportedResource, patientID: String?, principal: Principal) -> Bool {
        if let client = principal.client { return client.scopes.allows(.read, on: type.rawValue) && (!type.isPatientData || patientID != nil) }
        guard !type.isClientOnly else { return false }
        guard type.isPatientData else { return principal.role != .admin }
        guard let patientID else { return false }
        switch principal.role {
        case .patient: return patientID == principal.patientID
        case .clinician: return principal.teamPatientIDs.contains(patientID)
        case .admin: return false
        }
    }

    /// Whether the principal may write a resource of `type` into `patientID`'s compartment (that the
    /// patient exists is checked where the write happens, for a backend client).
    static func mayWrite(_ type: SupportedResource, patientID: String?, principal: Principal) -> Bool {
        guard principal.client != nil else { return mayRead(type, patientID: patientID, principal: principal) }
        return !type.isPatientData || patientID != nil
    }

    /// The compartments a search may look in: nil for no restriction (non-patient data).
    static func searchablePatients(_ type: SupportedResource, principal: Principal) -> [String]? {
        if let client = principal.client { return client.scopes.allows(.search, on: type.rawValue) ? nil : [] }
        guard !type.isClientOnly else { return [] }
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
        guard type == .practitioner, principal.role == .patient, principal.client == nil else { return nil }
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

    /// The types a backend client may create, given the scope: those whose creation the server knows.
    static let clientCreatable: Set<SupportedResource> = [
        .observation, .questionnaireResponse, .patient, .careTeam, .questionnaire, .valueSet, .task, .group, .subscription,
    ]
    /// The types a backend client may change, given the scope.
    static let clientUpdatable: Set<SupportedResource> = [
        .observation, .questionnaireResponse, .flag, .task, .careTeam, .questionnaire, .valueSet, .group, .subscription,
    ]

    static func mayCreate(_ type: SupportedResource, principal: Principal) -> Bool {
        guard let client = principal.client else { return mayCreate(type, role: principal.role) }
        return clientCreatable.contains(type) && client.scopes.allows(.create, on: type.rawValue)
    }

    static func mayUpdate(_ type: SupportedResource, principal: Principal) -> Bool {
        guard let client = principal.client else { return mayUpdate(type, role: principal.role) }
        return clientUpdatable.contains(type) && client.scopes.allows(.update, on: type.rawValue)
    }
}
