import BedsideCore
import Foundation

/// `bedside-server rules`: which care programme's alert rules apply to a patient. The programme is kept
/// on the Patient resource (an extension), so it is data like the rest, versioned and audited.
extension ServerAdministration {
    /// The rules that apply to the patient now.
    public func rules(patientEmail: String) async throws -> VitalSignRules {
        let email = AuthService.normalizedEmail(patientEmail)
        return try await store.read { db in
            guard let account = try db.account(email: email), account.role == .patient, let patientID = account.patientID else {
                throw AdministrationError("There is no patient account for \(email).")
            }
            return try ObservationFollowUp.rules(for: patientID, db: db)
        }
    }

    /// Puts the patient in a care programme (`default`, `heart-failure`, `copd`, `diabetes`).
    public func setProgramme(_ programme: String, patientEmail: String) async throws {
        guard VitalSignRules.programme(programme) != nil else {
            throw AdministrationError(
                "Unknown programme '\(programme)'. Choose one of: \(VitalSignRules.programmeNames.joined(separator: ", ")).")
        }
        let email = AuthService.normalizedEmail(patientEmail)
        let now = clock.now()
        let event = auditEvent("rules-set", type: "Patient")
        try await store.write { db in
            guard let account = try db.account(email: email), account.role == .patient, let patientID = account.patientID,
                let current = try db.resource(type: "Patient", id: patientID), var patient = JSONParser.parseOrNil(current.json)?.objectValue
            else {
                throw AdministrationError("There is no patient account for \(email).")
            }
            var extensions = (patient["extension"]?.arrayValue ?? []).filter {
                $0["url"]?.stringValue != ObservationFollowUp.programmeExtensionURL
            }
            extensions.append(["url": .string(ObservationFollowUp.programmeExtensionURL), "valueCode": .string(programme)])
            patient["extension"] = .array(extensions)
            try db.put(FHIRService.stamp(.object(patient), type: .patient, id: patientID, version: current.versionID + 1, at: max(now, current.lastUpdated + 1)))
            var withPatient = event
            withPatient.resourceID = patientID
            withPatient.patientID = patientID
            try db.append([withPatient])
        }
    }
}
