import GRDB

/// End of care and erasure.
extension SQLiteStoreSession {
    private static func careEnd(_ row: Row) -> CareEnd {
        CareEnd(patientID: row["patient_id"], endedAt: row["ended_at"], source: CareEnd.Source(rawValue: row["source"]) ?? .commandLine)
    }

    func careEnd(patientID: String) throws -> CareEnd? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM care_end WHERE patient_id = ?"), arguments: [patientID])
            .map(Self.careEnd)
    }

    func careEnds(endedBefore time: Int64) throws -> [CareEnd] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM care_end WHERE ended_at < ? ORDER BY ended_at, patient_id"), arguments: [time]
        ).map(Self.careEnd)
    }

    func save(_ careEnd: CareEnd) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO care_end (patient_id, ended_at, source) VALUES (?, ?, ?)",
            arguments: [careEnd.patientID, careEnd.endedAt, careEnd.source.rawValue])
    }

    func deleteCareEnd(patientID: String) throws {
        try db.execute(sql: "DELETE FROM care_end WHERE patient_id = ?", arguments: [patientID])
    }

    func patientDataSummary(patientID: String) throws -> PatientDataSummary {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT COUNT(*) AS resources, COALESCE(SUM(version), 0) AS versions, COALESCE(MAX(last_updated), 0) AS newest
                    FROM resource WHERE patient_id = ?
                    """), arguments: [patientID])
        else { return PatientDataSummary() }
        return PatientDataSummary(resources: row["resources"], versions: row["versions"], newestUpdate: row["newest"])
    }

    func erasePatient(patientID: String) throws -> ErasureCounts {
        var counts = ErasureCounts()
        // Earlier versions and the change feed name resources by type and id: those of the compartment.
        try db.execute(
            sql: """
                DELETE FROM resource_history WHERE (type, id) IN (SELECT type, id FROM resource WHERE patient_id = ?)
                """, arguments: [patientID])
        counts.historyVersions = db.changesCount
        try db.execute(
            sql: "DELETE FROM resource_change WHERE (type, id) IN (SELECT type, id FROM resource WHERE patient_id = ?)",
            arguments: [patientID])
        // Codes, categories and identifiers go with their resource (ON DELETE CASCADE).
        try db.execute(sql: "DELETE FROM resource WHERE patient_id = ?", arguments: [patientID])
        counts.resources = db.changesCount
        try db.execute(sql: "DELETE FROM care_team_member WHERE patient_id = ?", arguments: [patientID])
        try db.execute(sql: "DELETE FROM care_end WHERE patient_id = ?", arguments: [patientID])
        // Sessions, login codes and the enrolment code go with the account (ON DELETE CASCADE).
        try db.execute(sql: "DELETE FROM account WHERE patient_id = ?", arguments: [patientID])
        counts.accounts = db.changesCount
        return counts
    }
}
