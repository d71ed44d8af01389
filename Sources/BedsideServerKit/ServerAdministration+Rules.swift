import BedsideCore
import Foundation

/// `bedside-server rules`: which alert rules apply to a patient: their care programme's, or rules of
/// their own (a programme's adjusted for them). Both are kept on the Patient resource (extensions), so
/// they are data like the rest, versioned and audited.
extension ServerAdministration {
    /// The rules that apply to a patient now, and whether they are the patient's own.
    public struct PatientRules: Sendable {
        public var rules: VitalSignRules
        public var own: Bool
    }

    /// The rules that apply to the patient now.
    public func rules(patientEmail: String) async throws -> PatientRules {
        let email = AuthService.normalizedEmail(patientEmail)
        return try await store.read { db in
            guard let account = try db.account(email: email), account.role == .patient, let patientID = account.patientID else {
                throw AdministrationError("There is no patient account for \(email).")
            }
            let patient = try db.resource(type: "Patient", id: patientID).flatMap { JSONParser.parseOrNil($0.json) }
            return PatientRules(rules: ObservationFollowUp.rules(of: patient), own: ObservationFollowUp.hasOwnRules(patient))
        }
    }

    /// Puts the patient in a care programme (`default`, `heart-failure`, `copd`, `diabetes`); rules of
    /// their own, if they had any, give way to the programme's.
    public func setProgramme(_ programme: String, patientEmail: String) async throws {
        guard VitalSignRules.programme(programme) != nil else {
            throw AdministrationError(
                "Unknown programme '\(programme)'. Choose one of: \(VitalSignRules.programmeNames.joined(separator: ", ")).")
        }
        try await updatePatientExtensions(patientEmail: patientEmail) { extensions in
            extensions.removeAll {
                [ObservationFollowUp.programmeExtensionURL, ObservationFollowUp.ownRulesExtensionURL].contains($0["url"]?.stringValue ?? "")
            }
            extensions.append(["url": .string(ObservationFollowUp.programmeExtensionURL), "valueCode": .string(programme)])
        }
    }

    /// Gives the patient rules of their own (checked first: with any problem, nothing changes). Their
    /// programme stays recorded; `setProgramme` returns them to its rules.
    public func setOwnRules(_ rules: VitalSignRules, patientEmail: String) async throws {
        let problems = rules.problems
        guard problems.isEmpty else {
            throw AdministrationError("These rules cannot be used:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(rules), as: UTF8.self)
        try await updatePatientExtensions(patientEmail: patientEmail) { extensions in
            extensions.removeAll { $0["url"]?.stringValue == ObservationFollowUp.ownRulesExtensionURL }
            extensions.append(["url": .string(ObservationFollowUp.ownRulesExtensionURL), "valueString": .string(json)])
        }
    }

    /// A new version of the patient's Patient resource with its extensions changed, audited as `rules-set`.
    private func updatePatientExtensions(patientEmail: String, _ change: @escaping @Sendable (inout [JSONValue]) -> Void) async throws {
        let email = AuthService.normalizedEmail(patientEmail)
        let now = clock.now()
        let event = auditEvent("rules-set", type: "Patient")
        try await store.write { db in
            guard let account = try db.account(email: email), account.role == .patient, let patientID = account.patientID,
                let current = try db.resource(type: "Patient", id: patientID), var patient = JSONParser.parseOrNil(current.json)?.objectValue
            else {
                throw AdministrationError("There is no patient account for \(email).")
            }
            var extensions = patient["extension"]?.arrayValue ?? []
            change(&extensions)
            patient["extension"] = .array(extensions)
            try Self.putPatient(patient, after: current, audited: event, db: db, now: now)
        }
    }

    /// Stores `patient` as the next version after `current`, with `event` naming it, in the caller's transaction.
    static func putPatient(_ patient: JSONObject, after current: StoredResource, audited event: AuditEvent, db: any StoreWriting, now: Int64) throws {
        try db.put(FHIRService.stamp(.object(patient), type: .patient, id: current.id, version: current.versionID + 1, at: max(now, current.lastUpdated + 1)))
        var named = event
        named.resourceID = current.id
        named.patientID = current.id
        try db.append([named])
    }
}
