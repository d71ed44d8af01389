import BedsideCore
import Foundation

/// Care teams decide who sees a patient. The CareTeam resources are the truth: a clinician is in a
/// patient's care team while one of the patient's active CareTeams names their Practitioner as a
/// participant. `care_team_member` is the index of that, recomputed inside every write of a CareTeam,
/// so access follows at the next request. The command line (`team add`/`team remove`) changes the one
/// CareTeam it keeps per patient, and takes a clinician off every team of the patient when asked to.
enum CareTeams {
    /// The identifier system of the CareTeam the command line keeps for each patient (value: the patient id).
    static let managedSystem = "urn:bedside:care-team"

    /// Whether a CareTeam grants access now: active, or without a status (R4 makes it optional).
    static func isActive(_ careTeam: JSONValue) -> Bool {
        guard let status = careTeam["status"]?.stringValue else { return true }
        return status == "active"
    }

    /// The Practitioner ids a CareTeam names as participants.
    static func practitionerIDs(in careTeam: JSONValue) -> Set<String> {
        Set((careTeam["participant"]?.arrayValue ?? []).compactMap { participant in
            guard let reference = participant["member"]?["reference"]?.stringValue, let parsed = FHIRSyntax.parseReference(reference),
                parsed.type == "Practitioner"
            else { return nil }
            return parsed.id
        })
    }

    /// The patient's CareTeams, as stored.
    static func careTeams(of patientID: String, db: any StoreReading) throws -> [StoredResource] {
        var query = ResourceQuery(type: SupportedResource.careTeam.rawValue)
        query.patientIDs = [patientID]
        query.count = 1000
        var teams: [StoredResource] = []
        // Every one of them (an active team past the first page would otherwise go unseen), in pages.
        while true {
            let page = try db.search(query).resources
            teams += page
            guard page.count == query.count, query.offset < 1_000_000 else { return teams }
            query.offset += query.count
        }
    }

    /// Whether a CareTeam in this state means care goes on: active, proposed, suspended, or no status.
    static func isOngoing(_ careTeam: JSONValue?) -> Bool {
        guard let careTeam else { return false }
        let status = careTeam["status"]?.stringValue
        return status != "inactive" && status != "entered-in-error"
    }

    /// Makes the care_team_member rows of a patient what the patient's active CareTeams say, and keeps
    /// the end of their care: the retention time starts there.
    ///
    /// Care ends when a write takes the patient's last ongoing CareTeam out of care (`endedTeamID` was
    /// ongoing before this write and none is now), at the latest end their teams show: a team's
    /// `period.end` (the end of the day or month it names), else when it was last changed (so a team
    /// ended without a date ends care now, whatever older teams say); never later than now. A past team written for a patient
    /// in nobody's care does not end anything; a team ongoing again takes the end back; an end the teams
    /// recorded follows later corrections of their periods (one recorded by `end-care` stays as given).
    static func synchronize(patientID: String, db: any StoreWriting, now: Int64, endedTeamID: String? = nil) throws {
        var practitioners = Set<String>()
        var anyOngoing = false
        var ends: [Int64] = []
        for stored in try careTeams(of: patientID, db: db) {
            guard let careTeam = JSONParser.parseOrNil(stored.json) else { continue }
            if isOngoing(careTeam) {
                anyOngoing = true
            } else if careTeam["status"]?.stringValue == "inactive" {
                let periodEnd = careTeam["period"]?["end"]?.stringValue.flatMap(FHIRDateTime.init)?.upperBound
                ends.append(periodEnd ?? stored.lastUpdated)
            } else if stored.id == endedTeamID {
                ends.append(stored.lastUpdated)  // the last ongoing team was an error: care ended with this write
            }
            guard isActive(careTeam) else { continue }
            practitioners.formUnion(practitionerIDs(in: careTeam))
        }
        if anyOngoing {
            try db.deleteCareEnd(patientID: patientID)
        } else if let latest = ends.max() {
            let recorded = try db.careEnd(patientID: patientID)
            if endedTeamID != nil || recorded?.source == .careTeam {
                try db.save(CareEnd(patientID: patientID, endedAt: min(latest, now), source: .careTeam))
            }
        }
        let clinicians = try db.clinicianAccountIDs(practitionerIDs: practitioners.sorted())
        let current = Set(try db.clinicianIDs(patientID: patientID))
        for added in Set(clinicians).subtracting(current) { try db.addTeamMember(clinicianAccountID: added, patientID: patientID) }
        for removed in current.subtracting(clinicians) { try db.removeTeamMember(clinicianAccountID: removed, patientID: patientID) }
    }

    /// The command line's change: puts the Practitioner on the patient's managed CareTeam (made when
    /// missing), or takes them off every CareTeam of the patient; each change a new version.
    static func setMember(
        practitionerID: String, display: String, patientID: String, member: Bool, db: any StoreWriting, now: Int64
    ) throws {
        let reference = "Practitioner/\(practitionerID)"
        let teams = try careTeams(of: patientID, db: db)
        if member {
            let managed = teams.first { stored in
                JSONParser.parseOrNil(stored.json)?["identifier"]?.arrayValue?.contains { $0["system"]?.stringValue == managedSystem } == true
            }
            var careTeam = managed.flatMap { JSONParser.parseOrNil($0.json)?.objectValue } ?? [
                "resourceType": "CareTeam",
                "identifier": [["system": .string(managedSystem), "value": .string(patientID)]],
                "status": "active",
                "name": "Bedside care team",
                "subject": ["reference": .string("Patient/\(patientID)")],
            ]
            var participants = careTeam["participant"]?.arrayValue ?? []
            let ended = careTeam["status"]?.stringValue.map { $0 != "active" } ?? false
            guard ended || !participants.contains(where: { $0["member"]?["reference"]?.stringValue == reference }) else {
                return try synchronize(patientID: patientID, db: db, now: now)
            }
            if !participants.contains(where: { $0["member"]?["reference"]?.stringValue == reference }) {
                participants.append(["member": ["reference": .string(reference), "display": .string(display)]])
            }
            careTeam["participant"] = .array(participants)
            if ended {
                // Putting someone on the team of a patient whose care ended takes them back into care.
                careTeam["status"] = "active"
                if var period = careTeam["period"]?.objectValue {
                    period["end"] = nil
                    careTeam["period"] = period.isEmpty ? nil : .object(period)
                }
            }
            try db.put(FHIRService.stamp(
                .object(careTeam), type: .careTeam, id: managed?.id ?? UUID().uuidString.lowercased(), version: (managed?.versionID ?? 0) + 1,
                at: now))
        } else {
            for stored in teams {
                guard var careTeam = JSONParser.parseOrNil(stored.json)?.objectValue else { continue }
                let participants = careTeam["participant"]?.arrayValue ?? []
                let kept = participants.filter { $0["member"]?["reference"]?.stringValue != reference }
                guard kept.count != participants.count else { continue }
                careTeam["participant"] = kept.isEmpty ? nil : .array(kept)
                try db.put(FHIRService.stamp(.object(careTeam), type: .careTeam, id: stored.id, version: stored.versionID + 1, at: now))
            }
        }
        try synchronize(patientID: patientID, db: db, now: now)
    }

    /// The end of a patient's care (`patient end-care`): each of their CareTeams still going becomes
    /// `inactive` with `period.end` (a new version), nobody sees them from then on, and the end is
    /// recorded as given.
    static func endCare(patientID: String, at end: FHIRDateTime, db: any StoreWriting, now: Int64) throws {
        for stored in try careTeams(of: patientID, db: db) {
            guard var careTeam = JSONParser.parseOrNil(stored.json)?.objectValue else { continue }
            let status = careTeam["status"]?.stringValue
            guard status != "inactive", status != "entered-in-error" else { continue }
            careTeam["status"] = "inactive"
            var period = careTeam["period"]?.objectValue ?? JSONObject()
            if let start = period["start"]?.stringValue.flatMap(FHIRDateTime.init), start.lowerBound > end.upperBound {
                throw AdministrationError("Care cannot end on \(end.text): CareTeam/\(stored.id) started on \(start.text).")
            }
            period["end"] = .string(end.text)
            careTeam["period"] = .object(period)
            try db.put(FHIRService.stamp(.object(careTeam), type: .careTeam, id: stored.id, version: stored.versionID + 1, at: now))
        }
        try synchronize(patientID: patientID, db: db, now: now)
        try db.save(CareEnd(patientID: patientID, endedAt: end.lowerBound, source: .commandLine))
    }
}
