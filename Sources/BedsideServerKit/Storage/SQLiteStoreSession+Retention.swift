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
        let history = try Int.fetchOne(
            db.cachedStatement(sql: """
                SELECT COUNT(*) FROM resource_history h JOIN resource r ON r.type = h.type AND r.id = h.id WHERE r.patient_id = ?
                """), arguments: [patientID]) ?? 0
        return PatientDataSummary(resources: row["resources"], versions: row["versions"], newestUpdate: row["newest"], historyVersions: history)
    }

    func patientHistory(patientID: String, type: String, after: (id: String, version: Int)?, limit: Int) throws
        -> [(id: String, version: Int, json: [UInt8])]
    {
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT h.id, h.version, h.json FROM resource_history h JOIN resource r ON r.type = h.type AND r.id = h.id
                WHERE r.patient_id = ? AND h.type = ? AND (h.id, h.version) > (?, ?) ORDER BY h.id, h.version LIMIT ?
                """), arguments: [patientID, type, after?.id ?? "", after?.version ?? Int.min, limit])
        return try rows.map { row in
            let (id, version): (String, Int) = (row["id"], row["version"])
            return (id, version, try open(row["json"], context: Self.resourceContext(type: type, id: id, version: version)))
        }
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
