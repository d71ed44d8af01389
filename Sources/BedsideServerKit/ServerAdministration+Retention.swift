import BedsideCore
import Foundation

/// The end of a patient's care, and erasure at once (a request to be forgotten).
extension ServerAdministration {
    /// A patient named on the command line: by the e-mail of their account or by their Patient id.
    public enum PatientSelector: Sendable {
        case email(String)
        case patientID(String)
    }

    /// The Patient id a selector names, or why there is none.
    static func patientID(of selector: PatientSelector, db: any StoreReading) throws -> String {
        switch selector {
        case .email(let raw):
            let email = AuthService.normalizedEmail(raw)
            guard let account = try db.account(email: email), account.role == .patient, let patientID = account.patientID else {
                throw AdministrationError("There is no patient account for \(email).")
            }
            return patientID
        case .patientID(let id):
            // Data left without its Patient (written by a request that began before an erasure) counts too.
            guard FHIRSyntax.isValidID(id),
                try db.resource(type: SupportedResource.patient.rawValue, id: id) != nil || db.patientDataSummary(patientID: id).resources > 0
                    || db.account(patientID: id) != nil
            else { throw AdministrationError("There is no Patient/\(id).") }
            return id
        }
    }

    /// Reads `--date`: a day (YYYY-MM-DD) or a date and time with its offset, not in the future;
    /// none given: now.
    func careEndDate(_ text: String?) throws -> FHIRDateTime {
        let now = clock.now()
        guard let text else { return FHIRDateTime(epochMilliseconds: now) }
        guard let date = FHIRDateTime(text), date.precision >= .day, date.precision == .day || date.utcOffsetSeconds != nil else {
            throw AdministrationError("The date must be written as YYYY-MM-DD, or as a date and time with its offset (2026-03-01T14:00:00+01:00).")
        }
        guard date.lowerBound <= now else { throw AdministrationError("The end of care cannot be in the future (\(text)).") }
        return date
    }

    /// Records that the patient's care ended on `date` (default now): their CareTeams end, their
    /// clinicians no longer see them, and the retention time starts. `team add` takes them back into care.
    @discardableResult
    public func endCare(of selector: PatientSelector, date: String? = nil) async throws -> (patientID: String, endedAt: FHIRDateTime) {
        let end = try careEndDate(date)
        let now = clock.now()
        let event = auditEvent("end-care", type: SupportedResource.patient.rawValue)
        let patientID = try await store.write { db in
            let patientID = try Self.patientID(of: selector, db: db)
            try CareTeams.endCare(patientID: patientID, at: end, db: db, now: now)
            var audited = event
            audited.resourceID = patientID
            audited.patientID = patientID
            try db.append([audited])
            return patientID
        }
        return (patientID, end)
    }

    /// Hands the patient's data over into `directory` and erases it, whether or not their care ended.
    public func erase(_ selector: PatientSelector, handOverTo directory: URL) async throws -> PatientErasure.Report {
        let patientID = try await store.read { db in try Self.patientID(of: selector, db: db) }
        return try await PatientErasure(store: store, clock: clock).erase(
            patientID: patientID, handOverTo: directory, actor: .commandLine, reason: "patient erase: a request to be forgotten")
    }
}
